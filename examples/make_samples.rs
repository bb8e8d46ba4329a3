//! Writes `samples/`: the fictional Fabrikam organisation as an AD export in three formats
//! (Windows PowerShell 5.1 CSV in UTF-16LE, ldifde LDIF, XLSX) and a cloud-user export.
//!
//! `cargo run --example make_samples` regenerates them; samples/README.md says which user shows
//! which case. One table below is the single source, so the formats cannot drift apart.

use base64::Engine;
use rust_xlsxwriter::Workbook;
use std::fmt::Write as _;
use std::path::Path;
use uuid::Uuid;

const B64: base64::engine::general_purpose::GeneralPurpose =
    base64::engine::general_purpose::STANDARD;

/// What `Get-ADUser` shows for one user.
struct Ad {
    sam: &'static str,
    display: &'static str,
    upn: &'static str,
    /// objectGUID as text; the invalid one is kept as the typo it is.
    guid: &'static str,
    consistency_guid: Option<&'static str>,
    mail: &'static str,
    /// DN below `DC=fabrikam,DC=local`.
    ou: &'static str,
}

const fn ad(sam: &'static str, display: &'static str, upn: &'static str, guid: &'static str) -> Ad {
    Ad {
        sam,
        display,
        upn,
        guid,
        consistency_guid: None,
        mail: "",
        ou: "OU=Users,OU=Fabrikam",
    }
}

fn ad_users() -> Vec<Ad> {
    vec![
        // ImmutableId starts with '+': must stay text in every spreadsheet.
        ad(
            "AdeleV",
            "Adele Vance",
            "adele.vance@fabrikam.com",
            "62f4defa-e250-42c3-864e-59ccffbe4c53",
        ),
        ad(
            "AlexW",
            "Alex Wilber",
            "alex.wilber@fabrikam.com",
            "4ea5f725-d76f-4157-9216-2b5363e5aca8",
        ),
        ad(
            "MeganB",
            "Megan Bowen",
            "megan.bowen@fabrikam.com",
            "621328fe-04fa-41f5-8fae-dbe0c9d7e124",
        ),
        // ImmutableId starts with '/'.
        ad(
            "LeeG",
            "Lee Gu",
            "lee.gu@fabrikam.com",
            "55d273fe-6877-45cb-b710-820a1ce5c0e7",
        ),
        ad(
            "LidiaH",
            "Lidia Holloway",
            "lidia.holloway@fabrikam.com",
            "80ae7e5e-5c2c-4ad9-ae42-61d474f9065d",
        ),
        ad(
            "LynneR",
            "Lynne Robbins",
            "lynne.robbins@fabrikam.com",
            "db7a02cd-437f-49d5-a15e-9a4cdfeaa3d0",
        ),
        ad(
            "MiriamG",
            "Miriam Graham",
            "miriam.graham@fabrikam.com",
            "fe4e9a71-2da9-437d-acb3-34a34b3d0e0e",
        ),
        ad(
            "NestorW",
            "Nestor Wilke",
            "nestor.wilke@fabrikam.com",
            "378762c3-d694-45a1-af6e-e12cb79f95a5",
        ),
        ad(
            "PattiF",
            "Patti Fernandez",
            "patti.fernandez@fabrikam.com",
            "75bc311b-7793-45e4-a8aa-fd0f6ccaba76",
        ),
        ad(
            "PradeepG",
            "Pradeep Gupta",
            "pradeep.gupta@fabrikam.com",
            "2d8baed0-08a5-485f-9d5e-d75e5423d285",
        ),
        ad(
            "IsaiahL",
            "Isaiah Langer",
            "isaiah.langer@fabrikam.com",
            "a0f1e9c4-5d9a-4370-8b35-825d036f723b",
        ),
        ad(
            "JohannaL",
            "Johanna Lorenz",
            "johanna.lorenz@fabrikam.com",
            "c0809313-8974-494a-9236-5bb3ccafd9f8",
        ),
        ad(
            "JoniS",
            "Joni Sherman",
            "joni.sherman@fabrikam.com",
            "1e9dc037-abdc-420d-9f28-ba05d82e45e9",
        ),
        ad(
            "DiegoS",
            "Diego Siciliani",
            "diego.siciliani@fabrikam.com",
            "a72c8ed2-6828-495a-a077-c85389346669",
        ),
        // The same object again, exported before a UPN change and merged into the file.
        Ad {
            ou: "OU=Sales,OU=Fabrikam",
            ..ad(
                "DiegoS",
                "Diego Siciliani",
                "dsiciliani@fabrikam.com",
                "a72c8ed2-6828-495a-a077-c85389346669",
            )
        },
        // A GUID mistyped by hand (one digit short).
        ad(
            "GradyA",
            "Grady Archie",
            "grady.archie@fabrikam.com",
            "{6F9619FF-8B86-D011-B42D-00C04FC964F}",
        ),
        // Moved from the old forest with ADMT; mS-DS-ConsistencyGuid keeps the old objectGUID.
        Ad {
            consistency_guid: Some("0b4c19be-ad55-4ac0-a9b0-55d6543149d9"),
            ou: "OU=Users,OU=Munich,OU=Fabrikam",
            ..ad(
                "HenriettaM",
                "Henrietta Müller",
                "henrietta.mueller@fabrikam.com",
                "17e65458-f95a-4e1b-ae71-f4d4797f0d78",
            )
        },
        Ad {
            mail: "irvin.sayers@fabrikam.com",
            ..ad(
                "IrvinS",
                "Irvin Sayers",
                "irvin.sayers@fabrikam.com",
                "5e45f06f-efc1-4558-ac44-8547ba165754",
            )
        },
        ad(
            "ChristieC",
            "Christie Cline",
            "christie.cline@fabrikam.com",
            "d086632e-67f8-48dc-9584-e61678ad0791",
        ),
        ad(
            "EnricoC",
            "Enrico Cattaneo",
            "enrico.cattaneo@fabrikam.com",
            "cd8b43cd-42a6-4c8b-839a-29f1afe26261",
        ),
        ad(
            "DebraB",
            "Debra Berger",
            "Debra.Berger@Fabrikam.com",
            "b769c254-1067-41a8-8fe2-ec337f8113c6",
        ),
        // Non-routable UPN suffix: matches its cloud user only by mail (--match upn-mail).
        ad(
            "AllanD",
            "Allan Deyoung",
            "allan.deyoung@fabrikam.local",
            "0b788f92-5b6a-4631-8969-ccfa93c0959b",
        ),
    ]
}

/// What `Get-MgUser` shows for one user.
#[derive(Default)]
struct Cloud {
    upn: &'static str,
    immutable_id: Option<String>,
    sync_enabled: Option<bool>,
    mail: Option<&'static str>,
    display: &'static str,
    deleted: Option<&'static str>,
    on_prem_object_identifier: Option<&'static str>,
}

fn immutable_id(guid: &str) -> String {
    let g = Uuid::parse_str(guid).expect("sample GUID");
    B64.encode(g.to_bytes_le())
}

fn cloud(upn: &'static str, display: &'static str) -> Cloud {
    Cloud {
        upn,
        display,
        sync_enabled: None,
        mail: Some(upn),
        ..Cloud::default()
    }
}

fn cloud_users() -> Vec<Cloud> {
    let iid = |g: &str| Some(immutable_id(g));
    vec![
        cloud("adele.vance@fabrikam.com", "Adele Vance"),
        cloud("alex.wilber@fabrikam.com", "Alex Wilber"),
        cloud("megan.bowen@fabrikam.com", "Bowen, Megan"),
        cloud("lee.gu@fabrikam.com", "Lee Gu"),
        Cloud {
            immutable_id: iid("80ae7e5e-5c2c-4ad9-ae42-61d474f9065d"),
            ..cloud("lidia.holloway@fabrikam.com", "Lidia Holloway")
        },
        Cloud {
            immutable_id: iid("db7a02cd-437f-49d5-a15e-9a4cdfeaa3d0"),
            ..cloud("lynne.robbins@fabrikam.com", "Lynne Robbins")
        },
        // Old-forest objectGUID, left behind when her sync was switched off.
        Cloud {
            immutable_id: iid("b19a64df-6b88-4e54-9bb1-6297b43ace51"),
            sync_enabled: Some(false),
            ..cloud("miriam.graham@fabrikam.com", "Miriam Graham")
        },
        // Anchor written by a former SSO product: not a GUID.
        Cloud {
            immutable_id: Some("nestor.wilke@fabrikam-sso.example".into()),
            ..cloud("nestor.wilke@fabrikam.com", "Nestor Wilke")
        },
        // Still synced from the old forest.
        Cloud {
            immutable_id: iid("8feab3dc-74aa-4dd5-9e71-1ab1924098ed"),
            sync_enabled: Some(true),
            ..cloud("patti.fernandez@fabrikam.com", "Patti Fernandez")
        },
        cloud("isaiah.langer@fabrikam.com", "Isaiah Langer"),
        // A test account someone stamped with Isaiah's anchor.
        Cloud {
            immutable_id: iid("a0f1e9c4-5d9a-4370-8b35-825d036f723b"),
            mail: None,
            ..cloud(
                "isaiah.test@fabrikam.onmicrosoft.com",
                "Isaiah Langer (test)",
            )
        },
        cloud("johanna.lorenz@fabrikam.com", "Johanna Lorenz"),
        // Two objects with one UPN (an export merged from two runs, hand-edited).
        cloud("joni.sherman@fabrikam.com", "Joni Sherman"),
        Cloud {
            mail: None,
            ..cloud("Joni.Sherman@fabrikam.com", "Joni Sherman (old)")
        },
        cloud("diego.siciliani@fabrikam.com", "Diego Siciliani"),
        cloud("grady.archie@fabrikam.com", "Grady Archie"),
        Cloud {
            immutable_id: iid("0b4c19be-ad55-4ac0-a9b0-55d6543149d9"),
            ..cloud("henrietta.mueller@fabrikam.com", "Henrietta Müller")
        },
        Cloud {
            mail: Some("isayers@fabrikam.com"),
            ..cloud("irvin.sayers@fabrikam.com", "Irvin Sayers")
        },
        Cloud {
            on_prem_object_identifier: Some("4d1c7f0e-2a3b-4c5d-9e8f-7a6b5c4d3e2f"),
            ..cloud("christie.cline@fabrikam.com", "Christie Cline")
        },
        // UPN changed on-prem since the last sync; the anchor still matches.
        Cloud {
            immutable_id: iid("cd8b43cd-42a6-4c8b-839a-29f1afe26261"),
            ..cloud("ecattaneo@fabrikam.com", "Enrico Cattaneo")
        },
        cloud("debra.berger@fabrikam.com", "Debra Berger"),
        cloud("allan.deyoung@fabrikam.com", "Allan Deyoung"),
        Cloud {
            mail: None,
            ..cloud("admin@fabrikam.onmicrosoft.com", "Fabrikam Admin")
        },
        cloud("reception@fabrikam.com", "Reception"),
        // Recycle bin: the duplicate Entra Connect created in a failed first attempt.
        Cloud {
            immutable_id: iid("c0809313-8974-494a-9236-5bb3ccafd9f8"),
            deleted: Some("2026-10-14T09:12:44Z"),
            mail: None,
            ..cloud("johannal4821@fabrikam.onmicrosoft.com", "Johanna Lorenz")
        },
        Cloud {
            immutable_id: iid("e8cb0835-0aba-4ff4-b0d5-9a32b877152b"),
            deleted: Some("2026-08-02T16:40:03Z"),
            ..cloud("former.employee@fabrikam.com", "Former Employee")
        },
    ]
}

/// Random-looking but reproducible object ids.
fn object_id(upn: &str) -> String {
    let seed = upn.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut b = [0u8; 16];
    rng.fill(&mut b);
    uuid::Builder::from_random_bytes(b).into_uuid().to_string()
}

fn mail(u: &Ad) -> String {
    if !u.mail.is_empty() {
        u.mail.to_string()
    } else if u.upn.ends_with(".local") {
        u.upn.replace("fabrikam.local", "fabrikam.com")
    } else {
        u.upn.to_lowercase()
    }
}

fn proxies(u: &Ad) -> Vec<String> {
    let m = mail(u);
    vec![
        format!("SMTP:{m}"),
        format!(
            "smtp:{}@fabrikam.mail.onmicrosoft.com",
            u.sam.to_lowercase()
        ),
        format!(
            "X500:/o=Fabrikam/ou=Exchange Administrative Group/cn=Recipients/cn={}",
            u.sam
        ),
    ]
}

fn dn(u: &Ad) -> String {
    format!("CN={},{},DC=fabrikam,DC=local", u.display, u.ou)
}

const AD_HEADER: [&str; 8] = [
    "UserPrincipalName",
    "ObjectGUID",
    "mS-DS-ConsistencyGuid",
    "mail",
    "proxyAddresses",
    "DisplayName",
    "DistinguishedName",
    "SamAccountName",
];

fn ad_fields(u: &Ad) -> [String; 8] {
    [
        u.upn.into(),
        u.guid.into(),
        u.consistency_guid.unwrap_or("").into(),
        mail(u),
        proxies(u).join(";"),
        u.display.into(),
        dn(u),
        u.sam.into(),
    ]
}

fn csv_line(fields: &[String]) -> String {
    let quoted: Vec<String> = fields
        .iter()
        .map(|f| format!("\"{}\"", f.replace('"', "\"\"")))
        .collect();
    quoted.join(",") + "\r\n"
}

/// Windows PowerShell 5.1: `Get-ADUser -Filter * -Properties … | Select-Object … |
/// Export-Csv -Encoding Unicode`: UTF-16LE with BOM, `#TYPE` line, every field quoted, CRLF.
fn write_ad_csv(path: &Path, users: &[Ad]) -> std::io::Result<()> {
    let mut text = String::from("#TYPE Selected.Microsoft.ActiveDirectory.Management.ADUser\r\n");
    text.push_str(&csv_line(&AD_HEADER.map(String::from)));
    for u in users {
        text.push_str(&csv_line(&ad_fields(u)));
    }
    let mut bytes = vec![0xFF, 0xFE];
    for unit in text.encode_utf16() {
        bytes.extend_from_slice(&unit.to_le_bytes());
    }
    std::fs::write(path, bytes)
}

/// One LDIF attribute line, base64 (`::`) when the value is not safe ASCII, folded at 76 columns.
fn ldif_attr(out: &mut String, name: &str, value: &str) {
    let safe = value.is_ascii()
        && !value.starts_with([' ', ':', '<'])
        && !value.ends_with(' ')
        && !value.contains(['\r', '\n']);
    let line = if safe {
        format!("{name}: {value}")
    } else {
        format!("{name}:: {}", B64.encode(value))
    };
    fold(out, &line);
}

fn fold(out: &mut String, line: &str) {
    // All lines are ASCII here, so byte offsets are char boundaries.
    let (first, mut rest) = line.split_at(line.len().min(76));
    out.push_str(first);
    out.push_str("\r\n");
    while !rest.is_empty() {
        let (chunk, tail) = rest.split_at(rest.len().min(75));
        out.push(' ');
        out.push_str(chunk);
        out.push_str("\r\n");
        rest = tail;
    }
}

/// `ldifde -f ad-users.ldf -r "(objectClass=user)" -l "…"`: `objectGUID::` is already the
/// ImmutableId. The mistyped GUID cannot exist in a real directory, so that entry has none.
fn write_ldif(path: &Path, users: &[Ad]) -> std::io::Result<()> {
    let mut out = String::new();
    for u in users {
        out.push_str("\r\n");
        ldif_attr(&mut out, "dn", &dn(u));
        out.push_str("changetype: add\r\n");
        for oc in ["top", "person", "organizationalPerson", "user"] {
            ldif_attr(&mut out, "objectClass", oc);
        }
        ldif_attr(&mut out, "cn", u.display);
        ldif_attr(&mut out, "displayName", u.display);
        if let Ok(g) = Uuid::parse_str(u.guid) {
            fold(
                &mut out,
                &format!("objectGUID:: {}", B64.encode(g.to_bytes_le())),
            );
        }
        if let Some(cg) = u.consistency_guid.and_then(|c| Uuid::parse_str(c).ok()) {
            fold(
                &mut out,
                &format!("mS-DS-ConsistencyGuid:: {}", B64.encode(cg.to_bytes_le())),
            );
        }
        ldif_attr(&mut out, "sAMAccountName", u.sam);
        ldif_attr(&mut out, "userPrincipalName", u.upn);
        ldif_attr(&mut out, "mail", &mail(u));
        for p in proxies(u) {
            ldif_attr(&mut out, "proxyAddresses", &p);
        }
    }
    out.push_str("\r\n");
    std::fs::write(path, out)
}

/// The same table as an Excel workbook an admin saved: every cell text.
fn write_xlsx(path: &Path, users: &[Ad]) -> Result<(), rust_xlsxwriter::XlsxError> {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("Users")?;
    for (c, h) in AD_HEADER.iter().enumerate() {
        ws.write_string(0, c as u16, *h)?;
    }
    for (r, u) in users.iter().enumerate() {
        for (c, v) in ad_fields(u).iter().enumerate() {
            ws.write_string(r as u32 + 1, c as u16, v)?;
        }
    }
    wb.save(path)
}

/// PowerShell 7 `Get-MgUser -All -Property … | Select-Object … | Export-Csv`, active users
/// followed by `Get-MgDirectoryDeletedItemAsUser` with DeletedDateTime: UTF-8, no `#TYPE`.
fn write_cloud_csv(path: &Path, users: &[Cloud]) -> std::io::Result<()> {
    let header = [
        "Id",
        "UserPrincipalName",
        "OnPremisesImmutableId",
        "OnPremisesSyncEnabled",
        "Mail",
        "ProxyAddresses",
        "DisplayName",
        "DeletedDateTime",
        "OnPremisesObjectIdentifier",
    ];
    let mut text = csv_line(&header.map(String::from));
    for u in users {
        let proxies = u.mail.map(|m| format!("SMTP:{m}")).unwrap_or_default();
        text.push_str(&csv_line(&[
            object_id(u.upn),
            u.upn.into(),
            u.immutable_id.clone().unwrap_or_default(),
            match u.sync_enabled {
                Some(true) => "True".into(),
                Some(false) => "False".into(),
                None => String::new(),
            },
            u.mail.unwrap_or("").into(),
            proxies,
            u.display.into(),
            u.deleted.unwrap_or("").into(),
            u.on_prem_object_identifier.unwrap_or("").into(),
        ]));
    }
    std::fs::write(path, text)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples");
    std::fs::create_dir_all(&dir)?;
    let ad = ad_users();
    write_ad_csv(&dir.join("ad-users.csv"), &ad)?;
    write_ldif(&dir.join("ad-users.ldf"), &ad)?;
    write_xlsx(&dir.join("ad-users.xlsx"), &ad)?;
    write_cloud_csv(&dir.join("cloud-users.csv"), &cloud_users())?;
    let mut listing = String::new();
    for u in &ad {
        let _ = writeln!(
            listing,
            "{:<32} {:<38} {}",
            u.upn,
            u.guid,
            Uuid::parse_str(u.consistency_guid.unwrap_or(u.guid))
                .map(|g| B64.encode(g.to_bytes_le()))
                .unwrap_or_else(|_| "(invalid GUID)".into())
        );
    }
    print!("{listing}");
    println!("wrote {}", dir.display());
    Ok(())
}
