//! Every command the README marks runnable runs as written, with the exit code it promises.
//!
//! A block is marked by an HTML comment on the line right before its opening fence, invisible
//! on GitHub:
//!
//! ````text
//! <!-- runnable -->
//! ```sh
//! cargo run --release -- plan samples/ad-users.csv --cloud samples/cloud-users.csv -o plan.xlsx
//! hardmatch convert 0696b33a42c69b4884b658c038d3ef39   # exit 2
//! ```
//! ````
//!
//! Each line is a command (`\` continues it; lines starting with `#` are comments). When a block
//! shows a prompt (`$ `), only those lines are commands and the rest is output. A trailing
//! `# exit N` says the command must exit with N (default 0). `cargo run --release --` and
//! `hardmatch` run the binary this test was built with; `cargo test` is this very run and is
//! skipped; anything else in a marked block fails the test, so no block is marked that cannot
//! be checked. Each block runs in a fresh folder holding a copy of `samples/`, its commands in
//! order, without any sign-in variables from the environment.

use std::path::{Path, PathBuf};

/// One command of a runnable block.
#[derive(Debug, PartialEq, Eq)]
struct Command {
    /// README line the command starts on.
    line: usize,
    words: Vec<String>,
    exit: i32,
}

/// A runnable block: where its fence opens, and its commands.
#[derive(Debug)]
struct Block {
    line: usize,
    commands: Vec<Command>,
}

const MARKER: &str = "<!-- runnable -->";

/// Every block whose opening fence directly follows the marker, and the line of every fence
/// (to check where runnable blocks sit among all of them).
fn runnable_blocks(readme: &str) -> (Vec<Block>, Vec<usize>) {
    let lines: Vec<&str> = readme.lines().collect();
    let (mut blocks, mut fences) = (Vec::new(), Vec::new());
    let mut i = 0;
    while i < lines.len() {
        if !lines[i].trim_start().starts_with("```") {
            i += 1;
            continue;
        }
        let open = i;
        fences.push(open + 1);
        let close = (open + 1..lines.len())
            .find(|&j| lines[j].trim_start().starts_with("```"))
            .unwrap_or(lines.len());
        let marked = open > 0 && lines[open - 1].trim() == MARKER;
        if marked {
            blocks.push(Block {
                line: open + 1,
                commands: commands(&lines[open + 1..close], open + 2),
            });
        }
        i = close + 1;
    }
    (blocks, fences)
}

/// The commands in a block's lines; `first_line` is the README line of `body[0]`.
fn commands(body: &[&str], first_line: usize) -> Vec<Command> {
    let prompted = body.iter().any(|l| l.trim_start().starts_with("$ "));
    let mut out = Vec::new();
    let mut i = 0;
    while i < body.len() {
        let start = i;
        let mut text = body[i].trim().to_string();
        while text.ends_with('\\') && i + 1 < body.len() {
            text.pop();
            i += 1;
            text.push(' ');
            text.push_str(body[i].trim());
        }
        i += 1;
        let text = match (prompted, text.strip_prefix("$ ")) {
            (true, Some(command)) => command.to_string(),
            (true, None) => continue, // output shown under a prompt
            (false, _) => text,
        };
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        let (text, exit) = expected_exit(&text);
        let words = shlex::split(text)
            .unwrap_or_else(|| panic!("README line {}: unbalanced quotes", first_line + start));
        out.push(Command {
            line: first_line + start,
            words,
            exit,
        });
    }
    out
}

/// `cmd … # exit 2` → (`cmd …`, 2); without it, exit 0.
fn expected_exit(text: &str) -> (&str, i32) {
    if let Some((command, comment)) = text.rsplit_once(" # exit ") {
        let code = comment
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .and_then(|n| n.parse().ok());
        if let Some(code) = code {
            return (command.trim_end(), code);
        }
    }
    (text, 0)
}

/// The arguments to give the binary, or `None` for `cargo test` (this run).
fn hardmatch_args(c: &Command) -> Option<&[String]> {
    let w: Vec<&str> = c.words.iter().map(String::as_str).collect();
    match w.as_slice() {
        ["cargo", "test", ..] => None,
        ["cargo", "run", "--release", "--", ..] => Some(&c.words[4..]),
        ["hardmatch", ..] => Some(&c.words[1..]),
        _ => panic!(
            "README line {}: a runnable block may only run `cargo run --release -- …`, `hardmatch …` or \
             `cargo test`, not {:?}",
            c.line, c.words
        ),
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn run_block(block: &Block, root: &Path) -> usize {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&root.join("samples"), &dir.path().join("samples"));
    let mut ran = 0;
    for c in &block.commands {
        let Some(args) = hardmatch_args(c) else {
            continue;
        };
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_hardmatch"));
        // `demo` keeps its folder for the reader to open: here it goes with the test's.
        cmd.args(args)
            .current_dir(dir.path())
            .env("TMPDIR", dir.path());
        for k in [
            "AZURE_TENANT_ID",
            "AZURE_CLIENT_ID",
            "AZURE_CLIENT_SECRET",
            "AZURE_CLIENT_CERTIFICATE_PATH",
            "AZURE_CLIENT_CERTIFICATE_PASSWORD",
            "HARDMATCH_ACCESS_TOKEN",
            "HARDMATCH_LOG",
        ] {
            cmd.env_remove(k);
        }
        let out = cmd.output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(c.exit),
            "README line {}: `{}` exited {:?}, the README promises {}\nstdout:\n{}\nstderr:\n{}",
            c.line,
            c.words.join(" "),
            out.status.code(),
            c.exit,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        ran += 1;
    }
    ran
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn every_runnable_command_in_the_readme_runs_as_written() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let (blocks, fences) = runnable_blocks(&readme);
    // The Quick start's block, the README's first, is the first thing a newcomer runs.
    assert_eq!(
        blocks.first().map(|b| b.line),
        fences.first().copied(),
        "the README's first code block is marked {MARKER}"
    );
    let ran: usize = blocks.iter().map(|b| run_block(b, &root())).sum();
    assert!(ran >= 4, "only {ran} commands ran: markers lost?");
}

#[test]
fn blocks_prompts_continuations_and_exit_codes_are_read_as_documented() {
    let readme = "\
Text.

```sh
hardmatch not-marked
```
<!-- runnable -->
```sh
# a comment
cargo run --release -- plan a.csv \\
  --cloud 'c d.csv'
hardmatch convert 0696 # exit 2: ambiguous
cargo test
```

<!-- runnable -->

```
hardmatch not-directly-after-the-marker
```
<!-- runnable -->
```
$ hardmatch convert \"X'06'\"
GUID  shown output, not a command
```
";
    let (blocks, fences) = runnable_blocks(readme);
    assert_eq!(fences, [3, 7, 17, 21]);
    let all: Vec<(usize, Vec<String>, i32)> = blocks
        .iter()
        .flat_map(|b| &b.commands)
        .map(|c| (c.line, c.words.clone(), c.exit))
        .collect();
    let w = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert_eq!(
        all,
        [
            (
                9,
                w(&[
                    "cargo",
                    "run",
                    "--release",
                    "--",
                    "plan",
                    "a.csv",
                    "--cloud",
                    "c d.csv"
                ]),
                0
            ),
            (11, w(&["hardmatch", "convert", "0696"]), 2),
            (12, w(&["cargo", "test"]), 0),
            (22, w(&["hardmatch", "convert", "X'06'"]), 0),
        ]
    );
    let commands: Vec<&Command> = blocks.iter().flat_map(|b| &b.commands).collect();
    assert_eq!(
        hardmatch_args(commands[0]).map(|a| a.to_vec()),
        Some(w(&["plan", "a.csv", "--cloud", "c d.csv"]))
    );
    assert_eq!(hardmatch_args(commands[2]), None, "cargo test is this run");
    let other = Command {
        line: 1,
        words: w(&["rm", "-rf", "/"]),
        exit: 0,
    };
    assert!(std::panic::catch_unwind(|| hardmatch_args(&other).map(|_| ())).is_err());
}
