//! The docs cannot drift from the program: every ```console block of README.md, docs/ and
//! examples/*/README.md is run with trycmd and its output compared (`...` stands for lines
//! left out, `[..]` for part of a line, `? failed` for exit code 1); every other block that
//! shows commands is marked `<!-- illustrative -->` (README.md, "Examples in these docs");
//! and every `wasmesh …` the docs mention names a real subcommand and real flags.
//!
//! `TRYCMD=overwrite cargo test -p wasmesh --test doc_examples` writes the program's real
//! output into the console blocks.

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    process::Command,
};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// README.md, docs/**/*.md and examples/*/README.md, relative to the root.
fn doc_files() -> Vec<PathBuf> {
    let root = root();
    let mut files = vec![PathBuf::from("README.md")];
    let mut dirs = vec![PathBuf::from("docs")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(root.join(&dir)).unwrap() {
            let name = dir.join(entry.unwrap().file_name());
            if root.join(&name).is_dir() {
                dirs.push(name);
            } else if name.extension().is_some_and(|e| e == "md") {
                files.push(name);
            }
        }
    }
    for entry in std::fs::read_dir(root.join("examples")).unwrap() {
        let readme = Path::new("examples")
            .join(entry.unwrap().file_name())
            .join("README.md");
        if root.join(&readme).is_file() {
            files.push(readme);
        }
    }
    files.sort();
    files
}

#[test]
fn console_examples_run_as_shown() {
    // trycmd runs each command in the working directory: the docs' commands are written
    // for the repository's root. This test binary runs nothing else that depends on it.
    std::env::set_current_dir(root()).unwrap();
    let cases = trycmd::TestCases::new();
    cases
        .register_bin("wasmesh", Path::new(env!("CARGO_BIN_EXE_wasmesh")))
        .env("NO_COLOR", "1");
    for file in doc_files() {
        if blocks(&file).iter().any(|b| b.lang == "console") {
            cases.case(file);
        }
    }
    cases.run();
}

/// A fenced block of a Markdown file.
#[derive(Debug)]
struct Block {
    /// `file:line` of its opening fence.
    at: String,
    lang: String,
    lines: Vec<String>,
    /// The line before the fence is an `<!-- illustrative … -->` comment.
    illustrative: bool,
}

fn blocks(file: &Path) -> Vec<Block> {
    let text = std::fs::read_to_string(root().join(file)).unwrap();
    let mut out = Vec::new();
    let mut open: Option<(String, Block)> = None;
    let mut previous = "";
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        match &mut open {
            Some((fence, block)) => {
                if trimmed.starts_with(fence.as_str()) && trimmed.trim_start_matches('`').trim().is_empty() {
                    out.push(open.take().unwrap().1);
                } else {
                    block.lines.push(line.to_string());
                }
            }
            None if trimmed.starts_with("```") => {
                let ticks = trimmed.len() - trimmed.trim_start_matches('`').len();
                let info = trimmed[ticks..].trim();
                let lang = info.split([',', ' ']).next().unwrap_or("").to_string();
                let illustrative =
                    previous.trim_start().starts_with("<!--") && previous.contains("illustrative");
                open = Some((
                    "`".repeat(ticks),
                    Block {
                        at: format!("{}:{}", file.display(), i + 1),
                        lang,
                        lines: Vec::new(),
                        illustrative,
                    },
                ));
            }
            None => {}
        }
        previous = line;
    }
    assert!(open.is_none(), "{}: a block is not closed", file.display());
    out
}

#[test]
fn every_command_block_is_run_or_marked_illustrative() {
    const SHELLS: [&str; 5] = ["sh", "bash", "shell", "zsh", "shell-session"];
    let mut wrong = Vec::new();
    for file in doc_files() {
        for b in blocks(&file) {
            let prompt = b.lines.iter().any(|l| l.trim_start().starts_with("$ "));
            if b.lang.is_empty() {
                wrong.push(format!(
                    "{}: no language; name one (text, yaml, console, …)",
                    b.at
                ));
            } else if b.lang == "console" {
                if b.illustrative {
                    wrong.push(format!(
                        "{}: a console block is run; an illustrative one is ```text",
                        b.at
                    ));
                }
                for l in b.lines.iter().filter(|l| l.starts_with("$ ")) {
                    if !l.starts_with("$ wasmesh") {
                        wrong.push(format!(
                            "{}: `{l}`: console blocks run wasmesh only; mark other commands illustrative",
                            b.at
                        ));
                    }
                }
                if !prompt {
                    wrong.push(format!("{}: a console block without a `$ ` command", b.at));
                }
            } else if (SHELLS.contains(&b.lang.as_str()) || prompt) && !b.illustrative {
                wrong.push(format!(
                    "{}: commands that no test runs: make it a ```console block with the real output, \
                     or put <!-- illustrative --> on the line before it",
                    b.at
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "\n{}", wrong.join("\n"));
}

/// `wasmesh ARGS… --help`'s text.
fn help(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_wasmesh"))
        .args(args)
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success(), "wasmesh {args:?} --help");
    String::from_utf8(out.stdout).unwrap()
}

/// Every `wasmesh …` of the docs — in inline code and in illustrative blocks, where no test
/// runs it — names a subcommand that exists and flags that subcommand has.
#[test]
fn every_wasmesh_command_in_the_docs_exists() {
    let top = help(&[]);
    let commands: BTreeSet<String> = top
        .split("Commands:")
        .nth(1)
        .unwrap()
        .lines()
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect();
    assert!(
        commands.contains("validate") && commands.contains("describe"),
        "{commands:?}"
    );
    let mut mentions = Vec::new();
    for file in doc_files() {
        let text = std::fs::read_to_string(root().join(&file)).unwrap();
        // The language of the block the line is in.
        let mut block: Option<&str> = None;
        for (i, line) in text.lines().enumerate() {
            let at = format!("{}:{}", file.display(), i + 1);
            if let Some(info) = line.trim_start().strip_prefix("```") {
                block = match block {
                    Some(_) => None,
                    None => Some(info.trim()),
                };
                continue;
            }
            if let Some(lang) = block {
                // A console block's output lines are no commands.
                let command = match line.trim_start().strip_prefix("$ ") {
                    Some(command) => command,
                    None if lang != "console" => line.trim_start(),
                    None => continue,
                };
                if command.starts_with("wasmesh ") {
                    mentions.push((at, command.to_string()));
                }
                continue;
            }
            for (n, span) in line.split('`').enumerate() {
                if n % 2 == 1 && span.starts_with("wasmesh ") {
                    mentions.push((at.clone(), span.to_string()));
                }
            }
        }
    }
    assert!(mentions.len() > 10, "the scan found too few: {mentions:?}");
    let mut wrong = Vec::new();
    let mut helps = std::collections::BTreeMap::new();
    for (at, mention) in &mentions {
        // `wasmesh apply -f FILE --config DIR` / `delete`: each command of a mention.
        let words: Vec<&str> = mention
            .split_whitespace()
            .map(|w| w.trim_matches(|c: char| "[](),.|…".contains(c)))
            .filter(|w| !w.is_empty())
            .collect();
        let Some(sub) = words.get(1).copied() else {
            continue;
        };
        if sub.starts_with('-') {
            let top_flags = ["--help", "-h", "--version", "-V"];
            if !top_flags.contains(&sub) {
                wrong.push(format!("{at}: `{mention}`: wasmesh has no option {sub}"));
            }
            continue;
        }
        if !commands.contains(sub) {
            wrong.push(format!("{at}: `{mention}`: no subcommand {sub}"));
            continue;
        }
        let text = helps.entry(sub).or_insert_with(|| help(&[sub]));
        for flag in words.iter().skip(2).filter(|w| w.starts_with('-') && w.len() > 1) {
            let flag = flag.split('=').next().unwrap();
            let known = text.split(|c: char| c.is_whitespace() || c == ',').any(|w| {
                w == flag || w.starts_with(&format!("{flag}=")) || w.starts_with(&format!("{flag}["))
            });
            if !known {
                wrong.push(format!("{at}: `{mention}`: wasmesh {sub} has no option {flag}"));
            }
        }
    }
    assert!(wrong.is_empty(), "\n{}", wrong.join("\n"));
}

/// docs/proxy.md, the reference of the `Proxy` kind: each YAML block is a whole document
/// that `wasmesh validate` accepts, and every field of the kind's types is named.
#[test]
fn the_proxy_reference_examples_validate_and_name_every_field() {
    let doc = Path::new("docs/proxy.md");
    let examples: Vec<Block> = blocks(doc).into_iter().filter(|b| b.lang == "yaml").collect();
    assert!(examples.len() >= 6, "{examples:?}");
    let dir = std::env::temp_dir().join(format!("wasmesh-doc-proxy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (i, b) in examples.iter().enumerate() {
        let file = dir.join(format!("example-{i}.yaml"));
        std::fs::write(&file, b.lines.join("\n") + "\n").unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_wasmesh"))
            .args(["validate", "-f"])
            .arg(&file)
            .output()
            .unwrap();
        let shown = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && shown.contains("valid: ") && shown.contains(": Proxy "),
            "{}: the example does not validate:\n{shown}",
            b.at
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();

    // Every field of the types in proxy.rs, as the YAML spells it (camelCase).
    let source = std::fs::read_to_string(root().join("crates/wasmesh-api/src/proxy.rs")).unwrap();
    let text = std::fs::read_to_string(root().join(doc)).unwrap();
    let mut fields = BTreeSet::new();
    for line in source.lines() {
        let Some(rest) = line.strip_prefix("    pub ") else {
            continue;
        };
        let Some((name, _)) = rest.split_once(':') else {
            continue;
        };
        if name.contains(['(', ' ']) {
            continue;
        }
        let mut camel = String::new();
        let mut upper = false;
        for c in name.trim_start_matches("r#").chars() {
            if c == '_' {
                upper = true;
            } else if upper {
                camel.push(c.to_ascii_uppercase());
                upper = false;
            } else {
                camel.push(c);
            }
        }
        fields.insert(camel);
    }
    assert!(
        fields.contains("handshakeTimeout") && fields.contains("pathNormalization"),
        "{fields:?}"
    );
    let missing: Vec<&String> = fields
        .iter()
        .filter(|f| !text.contains(&format!("`{f}`")))
        .collect();
    assert!(missing.is_empty(), "docs/proxy.md does not describe {missing:?}");
}
