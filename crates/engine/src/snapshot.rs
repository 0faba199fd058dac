//! Snapshots: what was backed up, when, from which device.

use serde::{Deserialize, Serialize};

use crate::crypto::{self, Keys};
use crate::error::{Error, Result};
use crate::id::Id;

const SNAPSHOT_AAD: &[u8] = b"coffer snapshot v1";

/// One backup run's result. Stored encrypted; its file's id is the hash of
/// the encrypted bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// When the backup started, Unix milliseconds.
    pub time: i64,
    pub device_name: String,
    pub device_id: String,
    pub roots: Vec<SnapshotRoot>,
    /// Number of regular files in the snapshot.
    pub files: u64,
    /// Total size of those files.
    pub bytes: u64,
    /// Set on a snapshot written by `repair`: the damaged snapshot it
    /// replaces (which `repair` then removes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repaired_from: Option<Id>,
}

/// One backed-up folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotRoot {
    /// The chosen folder's absolute path on the device.
    pub path: String,
    /// Tree blob of the folder's contents.
    pub tree: Id,
}

impl Snapshot {
    /// `nonce ‖ AES-256-GCM(metadata key, JSON)`.
    pub(crate) fn encrypt(&self, keys: &Keys) -> Vec<u8> {
        let json = serde_json::to_vec(self).expect("snapshot serializes");
        crypto::seal(keys.metadata_key(), SNAPSHOT_AAD, &json)
    }

    /// # Errors
    /// `Integrity` when the file fails authentication or does not parse.
    pub(crate) fn decrypt(keys: &Keys, bytes: &[u8]) -> Result<Snapshot> {
        let json = crypto::open(keys.metadata_key(), SNAPSHOT_AAD, bytes)?;
        serde_json::from_slice(&json)
            .map_err(|e| Error::integrity(format!("snapshot does not parse: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::DataKey;
    use crate::error::ErrorKind;

    #[test]
    fn snapshot_round_trip() {
        let keys = Keys::derive(&DataKey::generate());
        let snap = Snapshot {
            time: 1_700_000_000_000,
            device_name: "laptop".into(),
            device_id: "d1".into(),
            roots: vec![SnapshotRoot {
                path: "/home/u/Docs".into(),
                tree: Id::hash(b"t"),
            }],
            files: 3,
            bytes: 42,
            repaired_from: None,
        };
        let bytes = snap.encrypt(&keys);
        assert!(!bytes.windows(6).any(|w| w == b"laptop"));
        assert_eq!(Snapshot::decrypt(&keys, &bytes).unwrap(), snap);
        let other = Keys::derive(&DataKey::generate());
        assert_eq!(
            Snapshot::decrypt(&other, &bytes).unwrap_err().kind(),
            ErrorKind::Integrity
        );
    }
}
