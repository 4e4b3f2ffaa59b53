//! The mount table: the steps that built a namespace, and their text form, Plan 9 `ns` style.
//!
//! A namespace keeps every mount and bind it was built from ([`NsOp`]), in order;
//! [`MountSpec`] is the same step without the service, as printed and parsed.
//!
//! The text has one line per step, in the order the namespace was built:
//! `mount [-b|-a][c] TARGET SOURCE` or `bind [-b|-a][c] EXISTING TARGET`.
//! Words containing spaces, quotes or `#` are written in single quotes, with
//! a quote inside doubled (`'it''s'`), and `\n` and `\\` standing for a newline
//! and a backslash. Blank lines and lines starting with
//! `#` are ignored.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::flags::{BindMode, MountFlags};
use crate::error::{FsError, Result};
use crate::service::FileService;

/// One step of building a namespace, as printed in the mount table.
#[derive(Clone)]
pub(super) enum NsOp {
    /// A service mounted at `target`.
    Mount {
        /// The mount point.
        target: String,
        /// The name the mount table prints for the service.
        source: String,
        /// Replace, before, after; create.
        flags: MountFlags,
        /// The service.
        service: Arc<dyn FileService>,
    },
    /// What `existing` showed, made visible at `target`.
    Bind {
        /// The path already in the namespace.
        existing: String,
        /// Where it became visible.
        target: String,
        /// Replace, before, after; create.
        flags: MountFlags,
    },
}

impl PartialEq for NsOp {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (
                Self::Mount {
                    target: t1,
                    source: s1,
                    flags: f1,
                    service: a,
                },
                Self::Mount {
                    target: t2,
                    source: s2,
                    flags: f2,
                    service: b,
                },
            ) => t1 == t2 && s1 == s2 && f1 == f2 && same_service(a, b),
            (
                Self::Bind {
                    existing: e1,
                    target: t1,
                    flags: f1,
                },
                Self::Bind {
                    existing: e2,
                    target: t2,
                    flags: f2,
                },
            ) => e1 == e2 && t1 == t2 && f1 == f2,
            _ => false,
        }
    }
}

/// Whether `a` and `b` are the same service instance.
fn same_service(a: &Arc<dyn FileService>, b: &Arc<dyn FileService>) -> bool {
    std::ptr::addr_eq(Arc::as_ptr(a), Arc::as_ptr(b))
}

/// One line of a mount table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum MountSpec {
    /// A service mounted at `target`.
    Mount {
        /// The mount point.
        target: String,
        /// The name of the service (what a replay looks up).
        source: String,
        /// Replace, before, after; create.
        flags: MountFlags,
    },
    /// A path of the namespace made visible at another.
    Bind {
        /// The path already in the namespace.
        existing: String,
        /// Where it becomes visible.
        target: String,
        /// Replace, before, after; create.
        flags: MountFlags,
    },
}

impl MountSpec {
    pub(super) fn from_op(op: &NsOp) -> Self {
        match op {
            NsOp::Mount {
                target,
                source,
                flags,
                ..
            } => Self::Mount {
                target: target.clone(),
                source: source.clone(),
                flags: *flags,
            },
            NsOp::Bind {
                existing,
                target,
                flags,
            } => Self::Bind {
                existing: existing.clone(),
                target: target.clone(),
                flags: *flags,
            },
        }
    }
}

fn flag_word(flags: MountFlags) -> Option<String> {
    let mut w = String::from("-");
    match flags.mode {
        BindMode::Replace => {}
        BindMode::Before => w.push('b'),
        BindMode::After => w.push('a'),
    }
    if flags.create {
        w.push('c');
    }
    (w.len() > 1).then_some(w)
}

fn quote(word: &str) -> String {
    let plain = !word.is_empty()
        && !word
            .chars()
            .any(|c| c.is_whitespace() || c == '\'' || c == '\\' || c == '#' || c.is_control());
    if plain {
        word.to_owned()
    } else {
        let mut out = String::with_capacity(word.len() + 2);
        out.push('\'');
        for c in word.chars() {
            match c {
                '\'' => out.push_str("''"),
                '\n' => out.push_str("\\n"),
                '\\' => out.push_str("\\\\"),
                _ => out.push(c),
            }
        }
        out.push('\'');
        out
    }
}

pub(super) fn print(specs: &[MountSpec]) -> String {
    let mut out = String::new();
    for spec in specs {
        let (verb, flags, a, b) = match spec {
            MountSpec::Mount {
                target,
                source,
                flags,
            } => ("mount", *flags, target, source),
            MountSpec::Bind {
                existing,
                target,
                flags,
            } => ("bind", *flags, existing, target),
        };
        out.push_str(verb);
        if let Some(w) = flag_word(flags) {
            out.push(' ');
            out.push_str(&w);
        }
        out.push(' ');
        out.push_str(&quote(a));
        out.push(' ');
        out.push_str(&quote(b));
        out.push('\n');
    }
    out
}

fn line_error(line_no: usize, message: impl Into<String>) -> FsError {
    FsError::invalid_input(format!("mount table line {line_no}"), message)
}

/// Splits a line into words, honouring single quotes.
fn words(line: &str, line_no: usize) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(&first) = chars.peek() else { break };
        if first == '#' {
            break;
        }
        let mut word = String::new();
        while let Some(&c) = chars.peek() {
            if c.is_whitespace() {
                break;
            }
            chars.next();
            if c != '\'' {
                word.push(c);
                continue;
            }
            // Quoted part: up to the next single quote that is not doubled.
            loop {
                match chars.next() {
                    None => return Err(line_error(line_no, "unterminated quote")),
                    Some('\'') if chars.peek() == Some(&'\'') => {
                        chars.next();
                        word.push('\'');
                    }
                    Some('\'') => break,
                    Some('\\') if chars.peek() == Some(&'n') => {
                        chars.next();
                        word.push('\n');
                    }
                    Some('\\') if chars.peek() == Some(&'\\') => {
                        chars.next();
                        word.push('\\');
                    }
                    Some(c) => word.push(c),
                }
            }
        }
        out.push(word);
    }
    Ok(out)
}

fn parse_flags(word: &str, line_no: usize) -> Result<MountFlags> {
    let mut flags = MountFlags::replace();
    for c in word.chars().skip(1) {
        match c {
            'b' if flags.mode == BindMode::Replace => flags.mode = BindMode::Before,
            'a' if flags.mode == BindMode::Replace => flags.mode = BindMode::After,
            'c' => flags.create = true,
            other => {
                return Err(line_error(
                    line_no,
                    format!(
                        "unknown or repeated flag `{other}` in `{word}` (expected -b, -a and/or -c)"
                    ),
                ));
            }
        }
    }
    Ok(flags)
}

pub(super) fn parse(text: &str) -> Result<Vec<(usize, MountSpec)>> {
    let mut specs = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        let words = words(line, line_no)?;
        let Some((verb, rest)) = words.split_first() else {
            continue;
        };
        let (flags, args) = match rest.split_first() {
            Some((w, args)) if w.starts_with('-') => (parse_flags(w, line_no)?, args),
            _ => (MountFlags::replace(), rest),
        };
        let [a, b] = args else {
            return Err(line_error(
                line_no,
                format!("`{verb}` takes two arguments, found {}", args.len()),
            ));
        };
        let spec = match verb.as_str() {
            "mount" => MountSpec::Mount {
                target: a.clone(),
                source: b.clone(),
                flags,
            },
            "bind" => MountSpec::Bind {
                existing: a.clone(),
                target: b.clone(),
                flags,
            },
            other => {
                return Err(line_error(
                    line_no,
                    format!("unknown command `{other}` (expected `mount` or `bind`)"),
                ));
            }
        };
        specs.push((line_no, spec));
    }
    Ok(specs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_round_trips() {
        for w in [
            "/a",
            "/with space",
            "it's",
            "#x",
            "",
            "/new\nline",
            "tab\there",
            "back\\slash\\n",
        ] {
            let q = quote(w);
            let back = words(&format!("mount {q} src"), 1).unwrap();
            assert_eq!(
                back,
                vec!["mount".to_owned(), w.to_owned(), "src".to_owned()],
                "{q}"
            );
        }
    }

    #[test]
    fn bad_lines_name_the_line() {
        let e = parse("mount /a x\nfrobnicate /a /b\n").unwrap_err();
        assert_eq!(e.path(), "mount table line 2");
        assert!(
            e.to_string().contains("unknown command `frobnicate`"),
            "{e}"
        );
        let e = parse("mount /a\n").unwrap_err();
        assert!(e.to_string().contains("two arguments"), "{e}");
        let e = parse("mount -x /a b\n").unwrap_err();
        assert!(
            e.to_string().contains("unknown or repeated flag `x`"),
            "{e}"
        );
        let e = parse("mount -ba /a b\n").unwrap_err();
        assert!(e.to_string().contains("flag `a`"), "{e}");
        let e = parse("mount '/a b\n").unwrap_err();
        assert!(e.to_string().contains("unterminated quote"), "{e}");
    }

    #[test]
    fn comments_and_blank_lines() {
        let specs = parse("# header\n\n  mount -bc /bin tools # trailing\n").unwrap();
        assert_eq!(specs.len(), 1);
        assert_eq!(specs[0].0, 3);
        assert_eq!(
            specs[0].1,
            MountSpec::Mount {
                target: "/bin".into(),
                source: "tools".into(),
                flags: MountFlags::before().create()
            }
        );
    }
}
