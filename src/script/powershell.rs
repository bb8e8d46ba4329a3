//! The Microsoft Graph PowerShell script.
//!
//! One `Invoke-Row` call per row, holding the row's writes as visible script blocks
//! (`Update-MgUser`, `Remove-MgDirectoryDeletedItem`, and for `-Undo` the same or an
//! `Invoke-MgGraphRequest` PATCH with a JSON null). `Invoke-Row` reads the user first and
//! writes only if the tenant is still as planned, so a rerun after a failure skips what is done
//! and never overwrites what someone else changed in between.

use super::quote::ps_string;
use super::text::{notes, provenance, Lines};
use super::{Change, Entry, Header, Script};
use crate::anchor;
use std::io::{self, Write};

/// Writes the script as UTF-8 with a byte-order mark and CRLF line ends.
pub fn render(script: &Script<'_>, header: &Header, out: &mut dyn Write) -> io::Result<()> {
    let mut w = Lines::new(out);
    w.raw("\u{FEFF}")?;
    opening_comment(&mut w, script, header)?;
    prelude(&mut w, script)?;
    for e in &script.entries {
        entry(&mut w, e)?;
    }
    w.blank()?;
    w.line("Write-Summary")?;
    w.line("if ($script:Tally.Failed -gt 0) {")?;
    w.line("    throw ('{0} row(s) failed:{1}{2}' -f $script:Tally.Failed, [Environment]::NewLine, ($script:Failures -join [Environment]::NewLine))")?;
    w.line("}")?;
    w.finish()
}

fn opening_comment(w: &mut Lines<'_>, script: &Script<'_>, header: &Header) -> io::Result<()> {
    let purges = script
        .entries
        .iter()
        .filter(|e| matches!(&e.change, Change::Graph { purge: Some(_) }))
        .count();
    w.comment(&format!(
        "hardmatch script: sets onPremisesImmutableId on {} cloud user(s), hard matching them to their AD users{}.",
        script.entries.len(),
        if purges > 0 {
            format!(", after permanently deleting {purges} soft-deleted user(s) that hold the same ImmutableId")
        } else {
            String::new()
        }
    ))?;
    w.comment("")?;
    provenance(w, header)?;
    w.comment("")?;
    for text in [
        "Run it with -WhatIf first: it reads every user and prints what it would change, writing nothing.",
        "Each user is read before it is written. If its ImmutableId is no longer what was planned, or it",
        "is synced now, that row fails and nothing is written for it: plan again.",
        "It stops at the first failure; -ContinueOnError goes on and lists the failures at the end.",
        "Running it again is safe: a user that already holds its new ImmutableId is skipped.",
        "-Undo sets each user back to the ImmutableId it had when planned (clearing it where it had none);",
        "a purged soft-deleted user cannot be brought back.",
        "Needs Microsoft Graph PowerShell 2.x. Without a Graph connection it connects with the scopes below;",
        "for an unattended run, connect first (Connect-MgGraph -Identity, or -ClientId/-TenantId/",
        "-CertificateThumbprint) and the script uses that connection. -Environment picks a national cloud.",
    ] {
        w.comment(text)?;
    }
    notes(w, script, "script")
}

/// The parameters, the connection, and the two helpers every row uses.
fn prelude(w: &mut Lines<'_>, script: &Script<'_>) -> io::Result<()> {
    let purges = script
        .entries
        .iter()
        .any(|e| matches!(&e.change, Change::Graph { purge: Some(_) }));
    // The least the script needs: reading and writing users, and deleting from the recycle bin
    // only when it purges (User.DeleteRestore.All is the documented permission for that).
    let scopes = if purges {
        "'User.ReadWrite.All', 'User.DeleteRestore.All'"
    } else {
        "'User.ReadWrite.All'"
    };
    w.blank()?;
    w.line("#Requires -Version 5.1")?;
    w.line("#Requires -Modules @{ ModuleName = 'Microsoft.Graph.Authentication'; ModuleVersion = '2.0.0' }")?;
    w.line(
        "#Requires -Modules @{ ModuleName = 'Microsoft.Graph.Users'; ModuleVersion = '2.0.0' }",
    )?;
    if purges {
        w.line("#Requires -Modules @{ ModuleName = 'Microsoft.Graph.Identity.DirectoryManagement'; ModuleVersion = '2.0.0' }")?;
    }
    w.blank()?;
    for l in PARAMS {
        w.line(l)?;
    }
    w.blank()?;
    w.line("$ErrorActionPreference = 'Stop'")?;
    w.line(&format!("$Scopes = @({scopes})"))?;
    w.line("if (-not (Get-MgContext)) {")?;
    w.line("    Connect-MgGraph -Scopes $Scopes -Environment $Environment -NoWelcome")?;
    w.line("}")?;
    w.blank()?;
    for l in HELPERS {
        w.line(l)?;
    }
    Ok(())
}

const PARAMS: &[&str] = &[
    "[CmdletBinding(SupportsShouldProcess)]",
    "param(",
    "    # Set every user back to the ImmutableId it had when planned.",
    "    [switch]$Undo,",
    "    # Go on with the next row after a failure; the failures are listed at the end.",
    "    [switch]$ContinueOnError,",
    "    # The national cloud to connect to when there is no Graph connection yet.",
    "    [ValidateSet('Global', 'USGov', 'USGovDoD', 'China')]",
    "    [string]$Environment = 'Global'",
    ")",
];

/// Invoke-Row and what it needs. Messages are built with -f, never by interpolating a value
/// into a double-quoted string, so no value is ever parsed as code.
const HELPERS: &[&str] = &[
    "$script:Tally = [ordered]@{ Changed = 0; AlreadyAsWanted = 0; WhatIf = 0; Failed = 0 }",
    "$script:Failures = @()",
    "",
    "function Format-ImmutableId([string]$Value) {",
    "    if ($Value) { $Value } else { '(none)' }",
    "}",
    "",
    "function Write-Summary {",
    "    Write-Host ('Changed {0}, already as wanted {1}, not changed (-WhatIf) {2}, failed {3}.' -f $script:Tally.Changed, $script:Tally.AlreadyAsWanted, $script:Tally.WhatIf, $script:Tally.Failed)",
    "}",
    "",
    "# True when soft-deleted user $Id still holds $ImmutableId, so purging it is still needed.",
    "function Test-DeletedHolder([string]$Id, [string]$ImmutableId) {",
    "    try {",
    "        $holder = Get-MgDirectoryDeletedItemAsUser -DirectoryObjectId $Id -Property 'id,userPrincipalName,onPremisesImmutableId,deletedDateTime'",
    "    } catch {",
    "        # Purged already (an earlier run), or restored: nothing to purge.",
    "        if (([string]$_) -match 'Request_ResourceNotFound|Status: 404') { return $false }",
    "        throw",
    "    }",
    "    return ([string]$holder.OnPremisesImmutableId -ceq $ImmutableId)",
    "}",
    "",
    "function Invoke-Row {",
    "    [CmdletBinding(SupportsShouldProcess)]",
    "    param(",
    "        [long]$Row,",
    "        [string]$Upn,",
    "        [string]$UserId,",
    "        # The ImmutableId the user had when planned ('' for none) and the one it gets.",
    "        [AllowEmptyString()][string]$Planned,",
    "        [string]$New,",
    "        [string]$DeletedHolder = '',",
    "        [scriptblock]$Do,",
    "        [scriptblock]$Back",
    "    )",
    "    $target = 'Row {0} {1} (cloud user {2})' -f $Row, $Upn, $UserId",
    "    if ($Undo) { $from = $New; $to = $Planned } else { $from = $Planned; $to = $New }",
    "    try {",
    "        $user = Get-MgUser -UserId $UserId -Property 'id,userPrincipalName,onPremisesImmutableId,onPremisesSyncEnabled'",
    "        $current = [string]$user.OnPremisesImmutableId",
    "        if ($current -ceq $to) {",
    "            Write-Host ('{0}: already holds ImmutableId {1}; nothing written.' -f $target, (Format-ImmutableId $to))",
    "            $script:Tally.AlreadyAsWanted++",
    "            return",
    "        }",
    "        if ($user.OnPremisesSyncEnabled -eq $true) {",
    "            throw 'the cloud user is synced now (onPremisesSyncEnabled = true), so Graph refuses the change; plan again'",
    "        }",
    "        if ($current -cne $from) {",
    "            throw ('its ImmutableId is {0} now, not {1} as planned; nothing written; plan again' -f (Format-ImmutableId $current), (Format-ImmutableId $from))",
    "        }",
    "        $purge = (-not $Undo) -and $DeletedHolder -and (Test-DeletedHolder $DeletedHolder $New)",
    "        if ($to) {",
    "            $what = 'Set onPremisesImmutableId {0} -> {1}' -f (Format-ImmutableId $from), $to",
    "        } else {",
    "            $what = 'Clear onPremisesImmutableId (was {0})' -f $from",
    "        }",
    "        if ($purge) { $what = 'Permanently delete soft-deleted user {0}, then {1}' -f $DeletedHolder, $what }",
    "        if (-not $PSCmdlet.ShouldProcess($target, $what)) {",
    "            $script:Tally.WhatIf++",
    "            return",
    "        }",
    "        if ($Undo) { & $Back } else { & $Do $purge }",
    "        Write-Host ('{0}: {1}: done.' -f $target, $what)",
    "        $script:Tally.Changed++",
    "    } catch {",
    "        $script:Tally.Failed++",
    "        $message = '{0}: {1}' -f $target, $_",
    "        if (-not $ContinueOnError) {",
    "            Write-Summary",
    "            throw ('Stopped at {0}. Rows before it are done; fix the cause and run the script again (done rows are skipped), or use -ContinueOnError.' -f $message)",
    "        }",
    "        Write-Warning $message",
    "        $script:Failures += $message",
    "    }",
    "}",
];

/// One row: a comment a reviewer reads, then the call with its writes.
fn entry(w: &mut Lines<'_>, e: &Entry<'_>) -> io::Result<()> {
    let p = &e.row.plan;
    let Change::Graph { purge } = &e.change else {
        return Ok(());
    };
    let action = p.action.map_or("", |a| a.as_str());
    let id = ps_string(&p.cloud_object_id);
    let new = ps_string(&p.new_immutable_id);
    let planned = ps_string(&p.cloud_immutable_id);
    w.blank()?;
    w.comment(&format!("Row {} {} ({action})", p.row_id, p.upn))?;
    let anchor = anchor::guid_based(&p.new_immutable_id)
        .map(|a| format!(" = AD anchor {}", a.guid()))
        .unwrap_or_default();
    let from = if p.cloud_immutable_id.is_empty() {
        "(none)"
    } else {
        &p.cloud_immutable_id
    };
    w.comment(&format!(
        "  cloud user {}: ImmutableId {from} -> {}{anchor}",
        p.cloud_object_id, p.new_immutable_id
    ))?;
    if let Some(h) = purge {
        w.comment(&format!(
            "  first permanently deletes soft-deleted user {h}, which holds {}",
            p.new_immutable_id
        ))?;
    }
    for c in &p.checks {
        w.comment(&format!("  Check (approved anyway): {c}"))?;
    }
    if e.unsigned {
        w.comment("  accepted with --trust-workbook: not signed with this operator's plan key")?;
    }
    let mut call = format!(
        "Invoke-Row -Row {} -Upn {} -UserId {id} -Planned {planned} -New {new}",
        p.row_id,
        ps_string(&p.upn),
    );
    if let Some(h) = purge {
        call.push_str(&format!(" -DeletedHolder {}", ps_string(h)));
    }
    call.push_str(" -Do {");
    w.line(&call)?;
    if let Some(h) = purge {
        w.line("    param($Purge)")?;
        w.line(&format!(
            "    if ($Purge) {{ Remove-MgDirectoryDeletedItem -DirectoryObjectId {} -Confirm:$false }}",
            ps_string(h)
        ))?;
    }
    w.line(&format!(
        "    Update-MgUser -UserId {id} -OnPremisesImmutableId {new} -Confirm:$false"
    ))?;
    w.line("} -Back {")?;
    if p.cloud_immutable_id.is_empty() {
        // Update-MgUser sends "" for $null (msgraph-sdk-powershell #2514), which is not "none":
        // a JSON null clears the attribute. The relative URI goes to the connected cloud's Graph.
        w.line(&format!(
            "    Invoke-MgGraphRequest -Method PATCH -Uri {} -Body '{{\"onPremisesImmutableId\":null}}' -ContentType 'application/json'",
            ps_string(&format!("/v1.0/users/{}", p.cloud_object_id))
        ))?;
    } else {
        w.line(&format!(
            "    Update-MgUser -UserId {id} -OnPremisesImmutableId {planned} -Confirm:$false"
        ))?;
    }
    w.line("}")
}
