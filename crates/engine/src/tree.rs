//! Trees: one directory's listing, stored as an encrypted blob.

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};
use crate::id::Id;

/// What a [`Node`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeKind {
    File,
    Dir,
    Symlink,
}

/// One entry of a directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    /// The entry's name within its directory (UTF-8; never contains `/`).
    pub name: String,
    #[serde(rename = "type")]
    pub kind: NodeKind,
    /// File size in bytes; 0 for directories and symlinks.
    pub size: u64,
    /// Modification time, nanoseconds since the Unix epoch.
    pub mtime_ns: i64,
    /// Unix permission bits (`0o7777` mask).
    pub mode: u32,
    /// Files: the data blob ids of the contents, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub content: Vec<Id>,
    /// Directories: the tree blob of the directory's contents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subtree: Option<Id>,
    /// Symlinks: the link target, as stored in the link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

/// A directory listing, sorted by name (byte order), names unique.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tree {
    pub nodes: Vec<Node>,
}

impl Tree {
    /// Serializes to the tree blob's plaintext: compact JSON, nodes sorted by
    /// name, so the same directory always gives the same bytes (and blob id).
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let mut sorted = self.clone();
        sorted.nodes.sort_by(|a, b| a.name.cmp(&b.name));
        serde_json::to_vec(&sorted).expect("tree serializes")
    }

    /// # Errors
    /// `Integrity` when the bytes are not a tree.
    pub(crate) fn from_bytes(bytes: &[u8]) -> Result<Tree> {
        serde_json::from_slice(bytes)
            .map_err(|e| Error::integrity(format!("tree does not parse: {e}")))
    }
}

/// Checks that `name` is safe to join onto a restore target: one plain path
/// component, never `.`/`..`, no separators, no NUL.
///
/// # Errors
/// `InvalidInput` explaining why.
pub fn validate_name(name: &str) -> Result<()> {
    let reason = if name.is_empty() {
        Some("empty name")
    } else if name == "." || name == ".." {
        Some("name is . or ..")
    } else if name.contains(['/', '\\']) {
        Some("name contains a path separator")
    } else if name.contains('\0') {
        Some("name contains NUL")
    } else if is_drive_or_absolute(name) {
        Some("name is an absolute or drive path")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(Error::new(
            ErrorKind::InvalidInput,
            format!("{reason}: {name:?}"),
        )),
        None => Ok(()),
    }
}

/// `C:`, `c:x` (a drive-relative path on Windows) or anything the platform
/// reads as more than one plain component. On Windows `:` is refused
/// altogether (it names alternate data streams).
fn is_drive_or_absolute(name: &str) -> bool {
    let bytes = name.as_bytes();
    let drive = bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':';
    let mut components = std::path::Path::new(name).components();
    let plain = matches!(
        (components.next(), components.next()),
        (Some(std::path::Component::Normal(c)), None) if c == name
    );
    drive || !plain || (cfg!(windows) && name.contains(':'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str) -> Node {
        Node {
            name: name.into(),
            kind: NodeKind::File,
            size: 3,
            mtime_ns: -5,
            mode: 0o644,
            content: vec![Id::hash(b"c")],
            subtree: None,
            target: None,
        }
    }

    #[test]
    fn serialization_is_sorted_and_round_trips() {
        let a = Tree {
            nodes: vec![node("b"), node("a"), node("ä")],
        };
        let b = Tree {
            nodes: vec![node("ä"), node("a"), node("b")],
        };
        assert_eq!(a.to_bytes(), b.to_bytes());
        let back = Tree::from_bytes(&a.to_bytes()).unwrap();
        let names: Vec<_> = back.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "ä"]);
        assert_eq!(back.nodes[0], node("a"));
        assert!(Tree::from_bytes(b"{").is_err());
    }

    #[test]
    fn unsafe_names_are_refused() {
        for bad in ["", ".", "..", "a/b", "/", "/etc", "a\\b", "a\0b", "C:", "c:x", "Z:\\x"] {
            assert_eq!(
                validate_name(bad).unwrap_err().kind(),
                ErrorKind::InvalidInput,
                "{bad:?}"
            );
        }
        for good in ["a", "...", ".hidden", "名前", "a b"] {
            validate_name(good).unwrap();
        }
        if cfg!(unix) {
            validate_name("notes: draft").unwrap();
            validate_name("1:2").unwrap();
        }
    }
}
