//! The LDIF reader against the real fixtures (tests/fixtures/ldif) and generated edge cases.

use super::*;
use base64::Engine;
use std::path::PathBuf;

const STD: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/ldif")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn read_text(text: &str) -> Result<(Vec<AdUser>, Vec<String>), InputError> {
    read(Path::new("/exports/ad.ldf"), text, None)
}

fn users(text: &str) -> (Vec<AdUser>, Vec<String>) {
    match read_text(text) {
        Ok(r) => r,
        Err(e) => panic!("unexpected InputError: {e}"),
    }
}

fn entries(text: &str) -> Vec<Entry<'_>> {
    Parser::new(text).collect()
}

fn dn_of(e: &Entry) -> String {
    e.dn().map(|d| d.into_owned()).unwrap_or_else(|p| p)
}

fn logical(text: &str) -> Vec<String> {
    LogicalLines::new(text)
        .filter_map(|l| match l {
            Logical::Content { text, .. } => Some(text.into_owned()),
            Logical::Separator { .. } => None,
        })
        .collect()
}

fn immutable_id(a: Option<SourceAnchor>) -> Option<String> {
    a.map(|a| a.immutable_id())
}

/// A minimal valid user entry, for cases that test something else.
fn user_entry(dn: &str, upn: &str, guid_b64: &str) -> String {
    format!(
        "dn: {dn}\nobjectClass: top\nobjectClass: person\nobjectClass: organizationalPerson\nobjectClass: user\n\
         userPrincipalName: {upn}\nobjectGUID:: {guid_b64}\n"
    )
}

const GUID_A: &str = "LfpD6qngUkupEy9bFXBBjA==";
const GUID_B: &str = "+7Byu5JQuU2TfrLSegT8VQ==";

// ----- real fixtures --------------------------------------------------------------------------

#[test]
fn cascade_ldapsearch_user_reads_upn_immutable_id_and_unfolded_dn() {
    let text = fixture("ctf_cascade_ldapsearch__user_and_folded_dn.ldif");
    let (users, warnings) = users(&text);
    assert_eq!(
        users.len(),
        1,
        "only the user; the two GPO entries are skipped"
    );
    let u = &users[0];
    assert_eq!(u.upn, "r.thompson@cascade.local");
    assert_eq!(
        immutable_id(u.object_guid).as_deref(),
        Some("LfpD6qngUkupEy9bFXBBjA==")
    );
    assert_eq!(
        u.object_guid.map(|g| g.to_string()).as_deref(),
        Some("ea43fa2d-e0a9-4b52-a913-2f5b1570418c")
    );
    assert_eq!(u.consistency_guid, None);
    assert_eq!(
        u.dn.as_deref(),
        Some("CN=Ryan Thompson,OU=Users,OU=UK,DC=cascade,DC=local")
    );
    assert_eq!(u.display_name.as_deref(), Some("Ryan Thompson"));
    assert_eq!(u.sam_account_name.as_deref(), Some("r.thompson"));
    assert_eq!(u.mail, None);
    assert!(u.proxy_addresses.is_empty());
    assert_eq!(u.location, "ad.ldf:2", "the dn: line, after the # comment");
    assert!(u.problems.is_empty(), "{:?}", u.problems);
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("skipped 2 entries") && w.contains("without objectClass")),
        "{warnings:?}"
    );
}

#[test]
fn cascade_gpo_dns_unfold_exactly_and_their_braced_guid_is_not_an_object_guid() {
    let text = fixture("ctf_cascade_ldapsearch__user_and_folded_dn.ldif");
    let es = entries(&text);
    let dns: Vec<String> = es.iter().map(dn_of).collect();
    assert_eq!(
        dns,
        [
            "CN=Ryan Thompson,OU=Users,OU=UK,DC=cascade,DC=local",
            "CN={4026EDF8-DBDA-4AED-8266-5A04B80D9327},CN=Policies,CN=System,DC=cascade,DC=local",
            "CN={D67C2AD5-44C7-4468-BA4C-199E75B2F295},CN=Policies,CN=System,DC=cascade,DC=local",
        ]
    );
    assert_eq!(
        es.iter().map(|e| e.dn_line).collect::<Vec<_>>(),
        [2, 46, 50]
    );
    let (users, _) = users(&text);
    let gpo = uuid::Uuid::parse_str("4026EDF8-DBDA-4AED-8266-5A04B80D9327").ok();
    assert!(users.iter().all(|u| u.object_guid.map(|g| g.guid()) != gpo));
}

#[test]
fn rfc2849_example3_base64_dns_decode_to_utf8() {
    let text = fixture("rfc2849_example3__base64_dn_and_comments.ldif");
    let es = entries(&text);
    assert_eq!(
        es.iter().map(dn_of).collect::<Vec<_>>(),
        ["ou=営業部,o=Airius", "uid=rogasawara,ou=営業部,o=Airius"]
    );
    assert_eq!(
        es[0].dn_line, 2,
        "after `version: 1`, which needs no blank line"
    );
    assert_eq!(es[1].dn_line, 15);
    assert!(matches!(es[0].classify(), Class::Skip(r) if r.contains("organizationalUnit")));
    assert!(matches!(es[1].classify(), Class::User));

    // The inetOrgPerson reads through comments inside the entry; it has no UPN and no GUID.
    let mut es = es;
    let user = es.remove(1).into_user("ex3.ldif", None);
    assert_eq!(
        user.dn.as_deref(),
        Some("uid=rogasawara,ou=営業部,o=Airius")
    );
    assert_eq!(user.mail.as_deref(), Some("rogasawara@airius.co.jp"));
    assert_eq!(user.location, "ex3.ldif:15");
    assert!(user
        .problems
        .iter()
        .any(|p| p.contains("no userPrincipalName")));
    assert!(user.problems.iter().any(|p| p.contains("no objectGUID")));
    assert!(
        !user
            .problems
            .iter()
            .any(|p| p.contains("not `attribute: value`")),
        "comment lines inside the entry are not malformed: {:?}",
        user.problems
    );
}

#[test]
fn rfc2849_example3_as_an_ad_export_is_an_error_that_names_what_is_missing() {
    let text = fixture("rfc2849_example3__base64_dn_and_comments.ldif");
    let err = read_text(&text).expect_err("no entry can be hard-matched");
    assert_eq!(err.file, Path::new("/exports/ad.ldf"));
    assert_eq!(err.location, "line 15");
    assert!(
        err.message.contains(
            "no user entry has a userPrincipalName or an objectGUID (1 user entry, the first on line 15)"
        ),
        "{err}"
    );
    assert!(err.fix.contains("ldifde"), "{err}");
}

#[test]
fn group_fragment_unfolds_plain_values_mid_word() {
    let text = fixture("ctf_group_folded_plaintext_values.ldif");
    let lines = logical(&text);
    assert_eq!(
        lines[0],
        "distinguishedName: CN=Cekirdek_Sebeke_Yazilimlari_Mudurlugu,CN=Users,DC=ulakhaberlesme,DC=com,DC=tr"
    );
    assert_eq!(
        lines.last().map(String::as_str),
        Some("objectCategory: CN=Group,CN=Schema,CN=Configuration,DC=ulakhaberlesme,DC=com,DC=tr")
    );
    assert_eq!(
        lines.len(),
        13,
        "15 physical lines, two of them continuations"
    );
}

#[test]
fn group_fragment_without_dn_line_is_an_input_error_naming_line_1() {
    let text = fixture("ctf_group_folded_plaintext_values.ldif");
    let err = read_text(&text).expect_err("no dn: line at all");
    assert_eq!(err.location, "line 1, column 1");
    assert!(err.message.contains("no line starts with `dn:`"), "{err}");
    assert!(
        err.message.contains("distinguishedName: CN=Cekirdek"),
        "{err}"
    );
    assert!(err.fix.contains("keep each entry's `dn:` line"), "{err}");
}

#[test]
fn myschemaext_warns_about_space_separators_and_yields_no_users() {
    let text = fixture("microsoft_win32_ldif-scripts__myschemaext_fragment.ldf");
    let (users, warnings) = users(&text);
    assert!(users.is_empty(), "{users:?}");
    assert!(
        warnings
            .iter()
            .any(|w| w.starts_with("ad.ldf: lines 18, 45 hold only spaces")),
        "{warnings:?}"
    );
    assert!(
        warnings.iter().any(|w| w.contains("skipped 3 entries")
            && w.contains("2 objectClass attributeSchema")
            && w.contains("1 change record (changetype: modify)")),
        "{warnings:?}"
    );
}

#[test]
fn myschemaext_space_line_separates_entries_instead_of_joining_them() {
    let text = fixture("microsoft_win32_ldif-scripts__myschemaext_fragment.ldf");
    let es = entries(&text);
    assert_eq!(es.len(), 3);
    assert_eq!(
        dn_of(&es[1]),
        "CN=My-Test-Attribute-DNString,CN=Schema,CN=Configuration,DC=myorg,DC=com"
    );
    assert_eq!(dn_of(&es[2]), "", "upper-case `DN:` with an empty value");
    assert_eq!(es[2].dn_line, 40);
    assert!(
        es.iter().all(|e| e.malformed.is_empty()),
        "`-` is a change separator"
    );
}

// ----- generated cases ------------------------------------------------------------------------

#[test]
fn base64_folded_over_three_lines_at_column_78() {
    // A long UTF-8 displayName, base64 encoded and folded the way ldapsearch does (78 columns).
    let name = "Ægir Þórðarson-Müller van der Heijden-Łukasiewicz (Informationstechnologie und Infrastruktur, Zürich)";
    let logical_line = format!("displayName:: {}", STD.encode(name));
    assert!(
        logical_line.len() > 2 * 77 + 1,
        "needs three physical lines"
    );
    let mut folded = String::new();
    let (first, mut rest) = logical_line.split_at(78);
    folded.push_str(first);
    while !rest.is_empty() {
        let (chunk, r) = rest.split_at(rest.len().min(77));
        folded.push_str("\n ");
        folded.push_str(chunk);
        rest = r;
    }
    assert_eq!(folded.lines().count(), 3);
    assert!(folded.lines().all(|l| l.len() <= 78));
    // objectGUID folded inside its base64 too.
    let text = format!(
        "dn: CN=A,DC=x\nobjectClass: user\nuserPrincipalName: a@x.com\nobjectGUID:: LfpD6qng\n UkupEy9b\n FXBBjA==\n{folded}\nmail: a@x.com\n"
    );
    let (users, _) = users(&text);
    assert_eq!(users[0].display_name.as_deref(), Some(name));
    assert_eq!(immutable_id(users[0].object_guid).as_deref(), Some(GUID_A));
    assert_eq!(users[0].mail.as_deref(), Some("a@x.com"));
    assert!(users[0].problems.is_empty(), "{:?}", users[0].problems);
}

#[test]
fn folding_removes_exactly_one_space_and_tolerates_a_tab() {
    let text =
        "dn: CN=Barbara J\n  Jensen,DC=x\nobjectClass: user\nuserPrincipalName: bj\n\t@x.com\n\
                objectGUID:: LfpD6qngUkupEy9bFXBBjA==\ndisplayName: Barbara\n   J  Jensen\n";
    let (users, _) = users(text);
    assert_eq!(users[0].dn.as_deref(), Some("CN=Barbara J Jensen,DC=x"));
    assert_eq!(users[0].upn, "bj@x.com");
    assert_eq!(users[0].display_name.as_deref(), Some("Barbara  J  Jensen"));
}

#[test]
fn comments_inside_entries_and_folded_comments_are_ignored() {
    let text = format!(
        "version: 1\n# header comment\n#  that is folded\n\n{}# comment inside the entry\n#, folded\n and continued\nmail: a@x.com\n# last comment\n",
        user_entry("CN=A,DC=x", "a@x.com", GUID_A)
    );
    let (users, warnings) = users(&text);
    assert_eq!(users.len(), 1);
    assert_eq!(users[0].mail.as_deref(), Some("a@x.com"));
    assert!(users[0].problems.is_empty(), "{:?}", users[0].problems);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(users[0].location, "ad.ldf:5");
}

#[test]
fn utf8_dn_in_base64_with_crlf_line_endings() {
    let dn = "CN=Zoë Åström,OU=Användare,DC=exempel,DC=se";
    let text = format!(
        "version: 1\r\n\r\ndn:: {}\r\nobjectClass: user\r\nuserPrincipalName: zoe@exempel.se\r\nobjectGUID:: {GUID_A}\r\ndisplayName:: {}\r\n\r\n",
        STD.encode(dn),
        STD.encode("Zoë Åström")
    );
    let (users, warnings) = users(&text);
    assert_eq!(users.len(), 1);
    let u = &users[0];
    assert_eq!(u.dn.as_deref(), Some(dn));
    assert_eq!(u.upn, "zoe@exempel.se", "no CR left at the end");
    assert_eq!(u.display_name.as_deref(), Some("Zoë Åström"));
    assert_eq!(immutable_id(u.object_guid).as_deref(), Some(GUID_A));
    assert_eq!(u.location, "ad.ldf:3");
    assert!(u.problems.is_empty() && warnings.is_empty());
}

#[test]
fn crlf_folded_dn_unfolds_without_carriage_returns() {
    let text = user_entry(
        "CN=Ryan Thompson,OU=Users,DC=cascade\r\n ,DC=local",
        "r@x",
        GUID_A,
    )
    .replace('\n', "\r\n")
    .replace("\r\r\n", "\r\n");
    let (users, _) = users(&text);
    assert_eq!(
        users[0].dn.as_deref(),
        Some("CN=Ryan Thompson,OU=Users,DC=cascade,DC=local")
    );
}

#[test]
fn duplicate_object_guid_is_a_row_problem() {
    let text = format!(
        "{}objectGUID:: {GUID_B}\n",
        user_entry("CN=A,DC=x", "a@x", GUID_A)
    );
    let (users, _) = users(&text);
    let p = &users[0].problems;
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        p[0].contains("line 8: a second objectGUID (the first is on line 7)"),
        "{p:?}"
    );
}

#[test]
fn stray_first_line_is_skipped_with_a_warning_naming_it() {
    let text = format!(
        "Enter LDAP Password: \n{}",
        user_entry("CN=A,DC=x", "a@x", GUID_A)
    );
    let (users, warnings) = users(&text);
    assert_eq!(users.len(), 1);
    assert_eq!(users[0].location, "ad.ldf:2");
    assert!(users[0].problems.is_empty(), "{:?}", users[0].problems);
    assert_eq!(
        warnings,
        ["ad.ldf:1: skipped text that is not part of an LDIF entry: `Enter LDAP Password: `"]
    );
}

#[test]
fn noise_block_between_entries_is_one_warning() {
    let text = format!(
        "{}\n-------------\nsome notes\nmore notes\n\n{}",
        user_entry("CN=A,DC=x", "a@x", GUID_A),
        user_entry("CN=B,DC=x", "b@x", GUID_B)
    );
    let (users, warnings) = users(&text);
    assert_eq!(users.len(), 2);
    assert_eq!(users[1].location, "ad.ldf:13");
    assert_eq!(
        warnings,
        ["ad.ldf:9: skipped text that is not part of an LDIF entry: `-------------` and the 2 lines after it"]
    );
}

#[test]
fn ldapsearch_header_and_trailer_need_no_warning() {
    let text = format!(
        "# extended LDIF\n#\n# LDAPv3\n# base <DC=x> with scope subtree\n#\n\n# A, x\n{}\n# search result\nsearch: 2\nresult: 0 Success\n\n# numResponses: 2\n# numEntries: 1\n",
        user_entry("CN=A,DC=x", "a@x", GUID_A)
    );
    let (users, warnings) = users(&text);
    assert_eq!(users.len(), 1);
    assert!(warnings.is_empty(), "{warnings:?}");
}

#[test]
fn guid_of_24_bytes_is_rejected_not_truncated() {
    // V41: a binary GUID decoded as text (U+FFFD) and re-encoded.
    let text = user_entry("CN=A,DC=x", "a@x", "77+9O++/vVEhb3hJ77+9alnvv71oKmlJ");
    let (users, _) = users(&text);
    assert_eq!(users[0].object_guid, None);
    let p = &users[0].problems;
    assert!(
        p.iter()
            .any(|p| p.contains("line 7: objectGUID is 24 bytes, not 16") && p.contains("U+FFFD")),
        "{p:?}"
    );
}

#[test]
fn guid_text_encoded_as_base64_is_rejected() {
    let b64 = STD.encode("ea43fa2d-e0a9-4b52-a913-2f5b1570418c");
    let (users, _) = users(&user_entry("CN=A,DC=x", "a@x", &b64));
    assert!(
        users[0]
            .problems
            .iter()
            .any(|p| p.contains("36 bytes") && p.contains("GUID's text")),
        "{:?}",
        users[0].problems
    );
}

#[test]
fn broken_base64_guid_is_a_row_problem() {
    let (users, _) = users(&user_entry("CN=A,DC=x", "a@x", "LfpD6qngUkupEy9b!XBBjA=="));
    assert_eq!(users[0].object_guid, None);
    assert!(
        users[0]
            .problems
            .iter()
            .any(|p| p.contains("objectGUID:: is not valid base64")),
        "{:?}",
        users[0].problems
    );
}

#[test]
fn attribute_names_are_case_insensitive_and_options_are_ignored() {
    let text = format!(
        "DN: CN=A,DC=x\nOBJECTCLASS: User\nuserprincipalname: a@x\nobjectGuid;binary:: {GUID_A}\n\
         MS-DS-CONSISTENCYGUID:: {GUID_B}\ndisplayName;lang-de: Anna (de)\nDisplayName: Anna\n\
         proxyAddresses: SMTP:a@x\nPROXYADDRESSES;range=0-1: smtp:a@y\nSAMACCOUNTNAME: anna\nMail: a@x\n"
    );
    let (users, _) = users(&text);
    let u = &users[0];
    assert_eq!(u.upn, "a@x");
    assert_eq!(immutable_id(u.object_guid).as_deref(), Some(GUID_A));
    assert_eq!(immutable_id(u.consistency_guid).as_deref(), Some(GUID_B));
    assert_eq!(immutable_id(u.source_anchor()).as_deref(), Some(GUID_B));
    assert_eq!(
        u.display_name.as_deref(),
        Some("Anna"),
        "option-less value wins"
    );
    assert_eq!(u.proxy_addresses, ["SMTP:a@x", "smtp:a@y"]);
    assert_eq!(u.sam_account_name.as_deref(), Some("anna"));
    assert_eq!(u.mail.as_deref(), Some("a@x"));
    assert!(u.problems.is_empty(), "{:?}", u.problems);
}

#[test]
fn ldifde_changetype_add_is_read_and_other_change_records_are_skipped() {
    let text = format!(
        "dn: CN=A,DC=x\nchangetype: add\nobjectClass: user\nuserPrincipalName: a@x\nobjectGUID:: {GUID_A}\n\n\
         dn: CN=B,DC=x\nchangetype: modify\nreplace: userPrincipalName\nuserPrincipalName: b@x\n-\n\n\
         dn: CN=C,DC=x\nchangetype: delete\n\n\
         dn:\nchangetype: add\nobjectClass: user\nuserPrincipalName: root@x\n"
    );
    let (users, warnings) = users(&text);
    assert_eq!(
        users.iter().map(|u| u.upn.as_str()).collect::<Vec<_>>(),
        ["a@x"]
    );
    assert!(
        warnings.iter().any(|w| w.contains("skipped 3 entries")
            && w.contains("1 change record (changetype: delete)")
            && w.contains("1 change record (changetype: modify)")
            && w.contains("1 RootDSE (empty dn)")),
        "{warnings:?}"
    );
}

#[test]
fn groups_computers_gpos_and_ous_do_not_become_rows() {
    let text = format!(
        "dn: CN=IT,OU=Groups,DC=x\nobjectClass: top\nobjectClass: group\nobjectGUID:: {GUID_B}\n\n\
         dn: CN=PC1,OU=Computers,DC=x\nobjectClass: top\nobjectClass: person\nobjectClass: organizationalPerson\n\
         objectClass: user\nobjectClass: computer\nobjectGUID:: {GUID_B}\n\n\
         dn: OU=Users,DC=x\nobjectGUID:: {GUID_B}\n\n\
         dn: CN={{4026EDF8-DBDA-4AED-8266-5A04B80D9327}},CN=Policies,CN=System,DC=x\nobjectClass: groupPolicyContainer\n\n{}",
        user_entry("CN=A,DC=x", "a@x", GUID_A)
    );
    let (users, warnings) = users(&text);
    assert_eq!(users.len(), 1);
    assert_eq!(users[0].upn, "a@x");
    let w = warnings.join("\n");
    assert!(
        w.contains("skipped 4 entries that are not user accounts"),
        "{w}"
    );
    for part in [
        "1 objectClass group",
        "1 objectClass computer",
        "1 objectClass groupPolicyContainer",
        "1 without objectClass named like a container (OU=, DC=…)",
    ] {
        assert!(w.contains(part), "{part} missing in {w}");
    }
}

#[test]
fn entry_without_object_class_is_a_user_when_it_has_upn_or_guid() {
    // `ldifde -l "objectGUID,userPrincipalName"` exports nothing else.
    let text = format!(
        "dn: CN=A,DC=x\nobjectGUID:: {GUID_A}\nuserPrincipalName: a@x\n\ndn: CN=B,DC=x\nobjectGUID:: {GUID_B}\n"
    );
    let (users, _) = users(&text);
    assert_eq!(users.len(), 2);
    assert!(users[0].problems.is_empty());
    assert_eq!(users[1].upn, "");
    assert!(users[1]
        .problems
        .iter()
        .any(|p| p.contains("no userPrincipalName")));
}

#[test]
fn multi_valued_proxy_addresses_keep_every_value_in_order() {
    let text = format!(
        "{}proxyAddresses: SMTP:anna@x.com\nproxyAddresses: smtp:anna@x.onmicrosoft.com\nproxyAddresses:: {}\n",
        user_entry("CN=A,DC=x", "a@x", GUID_A),
        STD.encode("smtp:anna.müller@x.com")
    );
    let (users, _) = users(&text);
    assert_eq!(
        users[0].proxy_addresses,
        [
            "SMTP:anna@x.com",
            "smtp:anna@x.onmicrosoft.com",
            "smtp:anna.müller@x.com"
        ]
    );
}

#[test]
fn malformed_line_inside_a_user_entry_is_a_row_problem() {
    let text = format!("{}C=tr\n", user_entry("CN=A,DC=x", "a@x", GUID_A));
    let (users, _) = users(&text);
    assert!(
        users[0]
            .problems
            .iter()
            .any(|p| p.starts_with("line 8: `C=tr` is not `attribute: value`")),
        "{:?}",
        users[0].problems
    );
}

#[test]
fn decoration_inside_an_entry_is_only_a_warning() {
    let text = format!("{}```\n", user_entry("CN=A,DC=x", "a@x", GUID_A));
    let (users, warnings) = users(&text);
    assert!(users[0].problems.is_empty(), "{:?}", users[0].problems);
    assert!(warnings
        .iter()
        .any(|w| w.contains("decoration lines") && w.contains("line 8")));
}

#[test]
fn dn_without_blank_line_before_it_starts_a_new_entry() {
    let text = format!(
        "{}{}",
        user_entry("CN=A,DC=x", "a@x", GUID_A),
        user_entry("CN=B,DC=x", "b@x", GUID_B)
    );
    let (users, warnings) = users(&text);
    assert_eq!(users.len(), 2);
    assert_eq!(users[1].location, "ad.ldf:8");
    assert!(users.iter().all(|u| u.problems.is_empty()));
    assert!(warnings
        .iter()
        .any(|w| w.contains("`dn:` on line 8 without a blank line")));
}

#[test]
fn many_blank_lines_are_one_separator() {
    let text = format!(
        "\n\n\n{}\n\n\n\n{}\n\n",
        user_entry("CN=A,DC=x", "a@x", GUID_A),
        user_entry("CN=B,DC=x", "b@x", GUID_B)
    );
    let (users, warnings) = users(&text);
    assert_eq!(users.len(), 2);
    assert!(warnings.is_empty(), "{warnings:?}");
}

#[test]
fn space_only_line_inside_an_entry_still_continues_the_value() {
    // A strict RFC reading applies when more of the entry follows: the line adds nothing.
    let text = format!(
        "dn: CN=A,DC=x\nobjectClass: user\ndisplayName: Anna\n \nuserPrincipalName: a@x\nobjectGUID:: {GUID_A}\n"
    );
    let (users, warnings) = users(&text);
    assert_eq!(users.len(), 1);
    assert_eq!(users[0].display_name.as_deref(), Some("Anna"));
    assert_eq!(users[0].upn, "a@x");
    assert!(warnings.is_empty(), "{warnings:?}");
}

#[test]
fn url_values_are_ignored_with_a_warning_and_a_url_guid_is_a_problem() {
    let text = "dn: CN=A,DC=x\nobjectClass: user\nuserPrincipalName: a@x\nobjectGUID:< file:///tmp/guid\njpegPhoto:< file:///tmp/a.jpg\n";
    let (users, warnings) = users(text);
    assert!(
        users[0]
            .problems
            .iter()
            .any(|p| p.contains("objectGUID is given as a URL reference")),
        "{:?}",
        users[0].problems
    );
    assert!(warnings
        .iter()
        .any(|w| w.contains("URL-referenced values") && w.contains("lines 4, 5")));
}

#[test]
fn printable_16_byte_plain_guid_is_read_as_raw_octets() {
    // ldapsearch writes a binary value unencoded when every byte is printable.
    let raw = "Ab3$efGh!jK;mn0p";
    let text =
        format!("dn: CN=A,DC=x\nobjectClass: user\nuserPrincipalName: a@x\nobjectGUID: {raw}\n");
    let (users, _) = users(&text);
    assert_eq!(
        users[0].object_guid.map(|g| *g.as_bytes()),
        Some(<[u8; 16]>::try_from(raw.as_bytes()).unwrap_or_default())
    );
}

#[test]
fn distinguished_name_that_differs_from_dn_is_a_problem() {
    let text = format!(
        "{}distinguishedName: CN=A,DC=y\n",
        user_entry("CN=A,DC=x", "a@x", GUID_A)
    );
    let (users, _) = users(&text);
    assert!(users[0]
        .problems
        .iter()
        .any(|p| p.contains("distinguishedName `CN=A,DC=y` differs")));

    let same = format!(
        "{}distinguishedName: cn=a,dc=X\n",
        user_entry("CN=A,DC=x", "a@x", GUID_A)
    );
    assert!(users_ok(&same)[0].problems.is_empty());
}

fn users_ok(text: &str) -> Vec<AdUser> {
    users(text).0
}

#[test]
fn invalid_utf8_in_base64_upn_and_bad_base64_dn_are_problems() {
    let text = format!(
        "dn:: %%%%\nobjectClass: user\nuserPrincipalName:: {}\nobjectGUID:: {GUID_A}\n\ndn: CN=B,DC=x\nobjectClass: user\nuserPrincipalName: b@x\nobjectGUID:: {GUID_B}\n",
        STD.encode([0xff, 0xfe, b'a'])
    );
    let (users, _) = users(&text);
    assert_eq!(users[0].dn, None);
    let p = users[0].problems.join("\n");
    assert!(p.contains("line 1: dn:: is not valid base64"), "{p}");
    assert!(
        p.contains("line 3: userPrincipalName:: does not decode to UTF-8"),
        "{p}"
    );
    assert!(users[1].problems.is_empty());
}

#[test]
fn empty_and_comment_only_files_are_input_errors() {
    for text in ["", "\n\n", "# only a comment\n#\n", "version: 1\n"] {
        let err = read_text(text).expect_err(text);
        assert_eq!(err.location, "", "{text:?}");
        assert!(err.message.contains("no LDIF entries"), "{err}");
    }
}

#[test]
fn file_where_no_user_has_a_guid_is_an_input_error() {
    // `ldifde -m` leaves objectGUID out of every entry.
    let text = "dn: CN=A,DC=x\nobjectClass: user\nuserPrincipalName: a@x\n\ndn: CN=B,DC=x\nobjectClass: user\nuserPrincipalName: b@x\n";
    let err = read_text(text).expect_err("no GUIDs");
    assert_eq!(err.location, "line 1");
    assert!(
        err.message
            .contains("no user entry has an objectGUID or mS-DS-ConsistencyGuid (2 user entries"),
        "{err}"
    );
    assert!(err.fix.contains("-m or -n"), "{err}");
}

#[test]
fn consistency_guid_alone_is_enough_for_the_file() {
    let text = format!(
        "dn: CN=A,DC=x\nobjectClass: user\nuserPrincipalName: a@x\nmS-DS-ConsistencyGuid:: {GUID_B}\n"
    );
    let (users, _) = users(&text);
    assert_eq!(
        immutable_id(users[0].source_anchor()).as_deref(),
        Some(GUID_B)
    );
    assert!(users[0].problems.is_empty(), "{:?}", users[0].problems);
}

#[test]
fn unsupported_version_is_a_warning() {
    let text = format!("version: 2\n{}", user_entry("CN=A,DC=x", "a@x", GUID_A));
    let (_, warnings) = users(&text);
    assert_eq!(
        warnings,
        ["ad.ldf:1: `version: 2` is not LDIF version 1; read as version 1"]
    );
}

#[test]
fn trailing_spaces_of_plain_values_are_kept_but_base64_whitespace_is_not() {
    let text = "dn: CN=A,DC=x \nobjectClass: user\nuserPrincipalName: a@x  \nobjectGUID::   LfpD6qngUkupEy9bFXBBjA==  \n";
    let (users, _) = users(text);
    assert_eq!(
        users[0].upn, "a@x  ",
        "the plan trims; the reader reports what is there"
    );
    assert_eq!(immutable_id(users[0].object_guid).as_deref(), Some(GUID_A));
}

#[test]
fn unpadded_base64_guid_is_accepted() {
    let (users, _) = users(&user_entry("CN=A,DC=x", "a@x", "LfpD6qngUkupEy9bFXBBjA"));
    assert_eq!(immutable_id(users[0].object_guid).as_deref(), Some(GUID_A));
}

// ----- property tests -------------------------------------------------------------------------

mod props {
    use super::*;
    use proptest::prelude::*;

    /// A user as the generator writes it.
    #[derive(Clone, Debug)]
    struct Gen {
        cn: String,
        upn: String,
        guid: [u8; 16],
        consistency: Option<[u8; 16]>,
        mail: Option<String>,
        display: String,
        proxies: Vec<String>,
        sam: String,
    }

    /// Text with the characters that exercise base64, folding and multi-byte boundaries.
    fn tricky_text() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![
                4 => proptest::char::range('a', 'z'),
                1 => Just(' '),
                1 => Just(':'),
                1 => Just('<'),
                1 => Just('#'),
                1 => Just(','),
                1 => Just('é'),
                1 => Just('営'),
                1 => Just('😀'),
                1 => Just('\t'),
            ],
            0..60,
        )
        .prop_map(|v| v.into_iter().collect())
    }

    fn gen_user() -> impl Strategy<Value = Gen> {
        (
            "[A-Za-z][A-Za-z0-9 ._-]{0,30}[A-Za-z0-9]",
            "[a-z0-9.]{1,20}@[a-z]{1,12}\\.(com|local)",
            any::<[u8; 16]>(),
            proptest::option::of(any::<[u8; 16]>()),
            proptest::option::of("[a-z]{1,10}@[a-z]{1,10}\\.com"),
            tricky_text(),
            proptest::collection::vec("(SMTP|smtp|X500):[a-z@./=]{1,40}", 0..4),
            tricky_text(),
        )
            .prop_map(
                |(cn, upn, guid, consistency, mail, display, proxies, sam)| Gen {
                    cn,
                    upn,
                    guid,
                    consistency,
                    mail,
                    display,
                    proxies,
                    sam,
                },
            )
    }

    /// RFC 2849: values that start with SPACE, `:` or `<`, end with SPACE, or hold anything but
    /// printable ASCII are written in base64.
    fn attr(name: &str, value: &str) -> String {
        let unsafe_value = value.starts_with([' ', ':', '<'])
            || value.ends_with(' ')
            || value.bytes().any(|b| !(0x20..0x7f).contains(&b));
        if value.is_empty() {
            format!("{name}:")
        } else if unsafe_value {
            format!("{name}:: {}", STD.encode(value))
        } else {
            format!("{name}: {value}")
        }
    }

    /// Fold at `width` bytes, never inside a UTF-8 character (RFC 2849 note 2).
    fn fold(line: &str, width: usize, eol: &str, out: &mut String) -> usize {
        let mut physical = 0;
        let mut room = width;
        let mut current = 0;
        for (i, c) in line.char_indices() {
            if current > 0 && current + c.len_utf8() > room {
                out.push_str(eol);
                out.push(' ');
                physical += 1;
                room = width - 1;
                current = 0;
            }
            out.push_str(&line[i..i + c.len_utf8()]);
            current += c.len_utf8();
        }
        out.push_str(eol);
        physical + 1
    }

    struct Written {
        text: String,
        dn_lines: Vec<usize>,
    }

    fn write(users: &[Gen], width: usize, crlf: bool, comments: bool, upper: bool) -> Written {
        let eol = if crlf { "\r\n" } else { "\n" };
        let mut text = String::new();
        let mut line = 0;
        let mut dn_lines = Vec::new();
        let name = |n: &str| {
            if upper {
                n.to_uppercase()
            } else {
                n.to_string()
            }
        };
        line += fold("version: 1", width, eol, &mut text);
        text.push_str(eol);
        line += 1;
        for (i, u) in users.iter().enumerate() {
            if comments {
                line += fold(
                    &format!("# {}, Users, example.com", u.cn),
                    width,
                    eol,
                    &mut text,
                );
            }
            let dn = format!("CN={},OU=Users,DC=example,DC=com", u.cn);
            dn_lines.push(line + 1);
            let mut lines = vec![attr("dn", &dn)];
            for class in ["top", "person", "organizationalPerson", "user"] {
                lines.push(attr(&name("objectClass"), class));
            }
            lines.push(attr(&name("distinguishedName"), &dn));
            lines.push(attr(&name("displayName"), &u.display));
            if comments {
                lines.push(format!("# comment inside entry {i}"));
            }
            lines.push(format!("{}:: {}", name("objectGUID"), STD.encode(u.guid)));
            if let Some(c) = u.consistency {
                lines.push(format!(
                    "{}:: {}",
                    name("mS-DS-ConsistencyGuid"),
                    STD.encode(c)
                ));
            }
            lines.push(attr(&name("userPrincipalName"), &u.upn));
            if let Some(m) = &u.mail {
                lines.push(attr(&name("mail"), m));
            }
            for p in &u.proxies {
                lines.push(attr(&name("proxyAddresses"), p));
            }
            lines.push(attr(&name("sAMAccountName"), &u.sam));
            for l in &lines {
                line += fold(l, width, eol, &mut text);
            }
            text.push_str(eol);
            line += 1;
        }
        Written { text, dn_lines }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

        #[test]
        fn arbitrary_text_never_panics(text in any::<String>()) {
            let _ = read_text(&text);
        }

        #[test]
        fn ldif_shaped_soup_never_panics(
            parts in proptest::collection::vec(prop_oneof![
                Just("dn: CN=A,DC=x".to_string()),
                Just("dn:: Q049QSxEQz14".to_string()),
                Just("DN:".to_string()),
                Just("dn:: %%".to_string()),
                Just("dn:< file:///x".to_string()),
                Just(String::new()),
                Just(" ".to_string()),
                Just("\t".to_string()),
                Just("-".to_string()),
                Just("#".to_string()),
                Just("version: 1".to_string()),
                Just("search: 2".to_string()),
                Just("changetype: modify".to_string()),
                Just("changetype: add".to_string()),
                Just("objectClass: user".to_string()),
                Just("objectClass: group".to_string()),
                Just("userPrincipalName: a@x".to_string()),
                Just("userPrincipalName:: /w==".to_string()),
                Just("distinguishedName: CN=A,DC=x".to_string()),
                Just("objectGUID:: LfpD6qngUkupEy9bFXBBjA==".to_string()),
                Just("objectGUID:: 77+9O++/vVEhb3hJ77+9alnvv71oKmlJ".to_string()),
                Just("objectGUID:< file:///g".to_string()),
                Just("mS-DS-ConsistencyGuid:: +7Byu5JQuU2TfrLSegT8VQ".to_string()),
                "[ \\t]?[A-Za-z:;<#=, -]{0,12}",
                "objectGUID:: [A-Za-z0-9+/= ]{0,30}",
                "displayName:: [A-Za-z0-9+/=]{0,12}",
                "proxyAddresses:[:<]? .{0,8}",
                ".{0,10}",
            ], 0..40),
            crlf in any::<bool>(),
        ) {
            let text = parts.join(if crlf { "\r\n" } else { "\n" });
            let lines = text.lines().count().max(1);
            if let Ok((users, _)) = read_text(&text) {
                for u in users {
                    let line: usize = u.location.strip_prefix("ad.ldf:")
                        .and_then(|l| l.parse().ok())
                        .unwrap_or(0);
                    prop_assert!((1..=lines).contains(&line), "{} of {lines}", u.location);
                }
            }
        }

        #[test]
        fn folded_entries_read_back_to_the_values_written(
            gens in proptest::collection::vec(gen_user(), 1..6),
            width in 2usize..100,
            crlf in any::<bool>(),
            comments in any::<bool>(),
            upper in any::<bool>(),
        ) {
            let written = write(&gens, width, crlf, comments, upper);
            let (users, warnings) = match read_text(&written.text) {
                Ok(r) => r,
                Err(e) => return Err(TestCaseError::fail(format!("{e}\n{}", written.text))),
            };
            prop_assert!(warnings.is_empty(), "{warnings:?}\n{}", written.text);
            prop_assert_eq!(users.len(), gens.len());
            for ((u, g), dn_line) in users.iter().zip(&gens).zip(&written.dn_lines) {
                let dn = format!("CN={},OU=Users,DC=example,DC=com", g.cn);
                prop_assert!(u.problems.is_empty(), "{:?}\n{}", u.problems, written.text);
                prop_assert_eq!(&u.upn, &g.upn);
                prop_assert_eq!(u.object_guid, Some(SourceAnchor::from_bytes(g.guid)));
                prop_assert_eq!(u.consistency_guid, g.consistency.map(SourceAnchor::from_bytes));
                prop_assert_eq!(&u.mail, &g.mail);
                prop_assert_eq!(u.display_name.as_deref(), Some(g.display.as_str()));
                prop_assert_eq!(&u.proxy_addresses, &g.proxies);
                prop_assert_eq!(u.sam_account_name.as_deref(), Some(g.sam.as_str()));
                prop_assert_eq!(u.dn.as_deref(), Some(dn.as_str()));
                prop_assert_eq!(&u.location, &format!("ad.ldf:{dn_line}"));
            }
        }
    }
}

#[test]
fn passwords_in_skipped_command_lines_are_not_repeated_in_warnings() {
    let text = format!(
        "ldapsearch -x -H ldap://dc1 -D admin@x -w S3cret! -b DC=x\nEnter LDAP Password: \npassword=hunter2 pwd: Also\n\n{}",
        user_entry("CN=A,DC=x", "a@x", GUID_A)
    );
    let (users, warnings) = users(&text);
    assert_eq!(users.len(), 1);
    let w = warnings.join("\n");
    assert!(
        !w.contains("S3cret") && !w.contains("hunter2") && !w.contains("Also"),
        "{w}"
    );
    assert!(w.contains("-w [redacted] -b DC=x"), "{w}");
    assert_eq!(
        excerpt_redacted("Enter LDAP Password: "),
        "Enter LDAP Password: ",
        "a prompt with nothing after it stays readable"
    );
    assert_eq!(
        excerpt_redacted("userPassword:: e1NTSEF9"),
        "userPassword:: [redacted]"
    );
}

#[test]
fn long_runs_of_space_only_lines_are_read_in_linear_time() {
    // Quadratic look-ahead would take minutes here; linear takes milliseconds.
    let run = " \n".repeat(200_000);
    let text = format!(
        "dn: CN=A,DC=x\nobjectClass: user\ndisplayName: A\n{run}userPrincipalName: a@x\nobjectGUID:: {GUID_A}\n\n{run}\n{}",
        user_entry("CN=B,DC=x", "b@x", GUID_B)
    );
    let (users, warnings) = users(&text);
    assert_eq!(users.len(), 2);
    assert_eq!(users[0].display_name.as_deref(), Some("A"));
    assert_eq!(users[0].upn, "a@x");
    assert_eq!(
        users[1].location,
        format!("ad.ldf:{}", 3 + 200_000 + 3 + 200_000 + 2)
    );
    assert!(warnings.is_empty(), "{warnings:?}");
}

#[test]
fn second_upn_in_one_entry_is_a_row_problem() {
    let text = format!(
        "{}userPrincipalName: b@x\n",
        user_entry("CN=A,DC=x", "a@x", GUID_A)
    );
    let (users, _) = users(&text);
    assert_eq!(users[0].upn, "a@x");
    assert_eq!(
        users[0].problems,
        ["line 8: a second userPrincipalName (the first is on line 6); it is single-valued, so the file was merged or garbled"]
    );
}

#[test]
fn carriage_return_only_line_ends_are_read() {
    let text = user_entry("CN=A,DC=x", "a@x", GUID_A).replace('\n', "\r");
    let (users, _) = users(&text);
    assert_eq!(users.len(), 1);
    assert_eq!(users[0].upn, "a@x");
    assert_eq!(immutable_id(users[0].object_guid).as_deref(), Some(GUID_A));
}

#[test]
fn trailing_spaces_after_dn_values_do_not_make_distinguished_name_differ() {
    // The TechNet copy of an ldifde export carries trailing spaces after values.
    let text = format!(
        "{}distinguishedName: CN=A,DC=x\n",
        user_entry("CN=A,DC=x  ", "a@x", GUID_A)
    );
    let (users, _) = users(&text);
    assert!(users[0].problems.is_empty(), "{:?}", users[0].problems);
}

#[test]
fn repeated_oddities_are_named_a_few_times_and_counted() {
    let mut text = String::new();
    for i in 0..8 {
        text.push_str(&format!("noise {i}\nmore noise\n\n"));
        text.push_str(&format!(
            "{} \n\n",
            user_entry(&format!("CN=U{i},DC=x"), "u@x", GUID_A)
        ));
    }
    let (users, warnings) = users(&text);
    assert_eq!(users.len(), 8);
    assert_eq!(warnings.len(), 7, "{warnings:#?}");
    assert_eq!(
        warnings[0],
        "ad.ldf:1: skipped text that is not part of an LDIF entry: `noise 0` and the line after it"
    );
    assert_eq!(
        warnings[5],
        "ad.ldf: skipped 3 more blocks of text that are not LDIF entries"
    );
    assert_eq!(
        warnings[6],
        "ad.ldf: lines 11, 23, 35, 47, 59 and 3 more hold only spaces; read as blank lines between entries \
         (a strict RFC 2849 reader would join them to the line above)"
    );
}

#[test]
fn an_invisible_character_in_a_upn_is_a_problem() {
    // Issue 7 §12: U+200B is not whitespace, so it survives every trim and hides a mismatch.
    let upn = STD.encode("pat\u{200b}@x.com");
    let text = format!(
        "dn: CN=A,DC=x\nobjectClass: user\nuserPrincipalName:: {upn}\nobjectGUID:: LfpD6qngUkupEy9bFXBBjA==\n"
    );
    let (users, _) = users(&text);
    let p = users[0].problems.join("; ");
    assert!(p.contains("zero-width space"), "{p}");
}
