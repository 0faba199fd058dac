//! Index files (which blob lives in which pack) and the in-memory index.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::blob::BlobType;
use crate::crypto::{self, Keys, SALT_LEN};
use crate::error::{Error, Result};
use crate::id::Id;
use crate::pack::{Pack, PackEntry};

const INDEX_AAD: &[u8] = b"coffer index v1";
const INDEX_VERSION: u32 = 1;

/// The plaintext of one index file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct IndexFile {
    pub version: u32,
    pub packs: Vec<IndexPack>,
}

/// One pack as an index file lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct IndexPack {
    pub id: Id,
    #[serde(with = "hex_salt")]
    pub salt: [u8; SALT_LEN],
    pub blobs: Vec<PackEntry>,
}

impl From<&Pack> for IndexPack {
    fn from(pack: &Pack) -> IndexPack {
        IndexPack {
            id: pack.id,
            salt: pack.salt,
            blobs: pack.entries.clone(),
        }
    }
}

mod hex_salt {
    use super::SALT_LEN;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(salt: &[u8; SALT_LEN], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(salt))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; SALT_LEN], D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        let mut salt = [0u8; SALT_LEN];
        hex::decode_to_slice(text.as_ref(), &mut salt).map_err(serde::de::Error::custom)?;
        Ok(salt)
    }
}

impl IndexFile {
    pub(crate) fn new(packs: Vec<IndexPack>) -> IndexFile {
        IndexFile {
            version: INDEX_VERSION,
            packs,
        }
    }

    /// `nonce ‖ AES-256-GCM(metadata key, zstd(JSON))`.
    pub(crate) fn encrypt(&self, keys: &Keys) -> Vec<u8> {
        let json = serde_json::to_vec(self).expect("index serializes");
        let packed = zstd::bulk::compress(&json, 3).expect("zstd compresses in memory");
        crypto::seal(keys.metadata_key(), INDEX_AAD, &packed)
    }

    /// # Errors
    /// `Integrity` when the file fails authentication or does not parse.
    pub(crate) fn decrypt(keys: &Keys, bytes: &[u8]) -> Result<IndexFile> {
        let packed = crypto::open(keys.metadata_key(), INDEX_AAD, bytes)?;
        let json = zstd::stream::decode_all(&packed[..])
            .map_err(|e| Error::integrity(format!("index does not decompress: {e}")))?;
        let file: IndexFile = serde_json::from_slice(&json)
            .map_err(|e| Error::integrity(format!("index does not parse: {e}")))?;
        if file.version != INDEX_VERSION {
            return Err(Error::integrity(format!(
                "unsupported index version {}",
                file.version
            )));
        }
        Ok(file)
    }
}

/// Where to find a blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BlobLocation {
    pub pack: Id,
    pub salt: [u8; SALT_LEN],
    pub entry: PackEntry,
}

/// Every known blob, by type and id.
#[derive(Debug, Default, Clone)]
pub(crate) struct Index {
    blobs: HashMap<(BlobType, Id), BlobLocation>,
}

impl Index {
    pub(crate) fn add_pack(&mut self, pack: &IndexPack) {
        for entry in &pack.blobs {
            // The first copy wins; later duplicates are garbage for prune.
            self.blobs
                .entry((entry.blob_type, entry.id))
                .or_insert(BlobLocation {
                    pack: pack.id,
                    salt: pack.salt,
                    entry: *entry,
                });
        }
    }

    pub(crate) fn get(&self, blob_type: BlobType, id: &Id) -> Option<&BlobLocation> {
        self.blobs.get(&(blob_type, *id))
    }

    pub(crate) fn contains(&self, blob_type: BlobType, id: &Id) -> bool {
        self.blobs.contains_key(&(blob_type, *id))
    }

    pub(crate) fn len(&self) -> usize {
        self.blobs.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::DataKey;
    use crate::error::ErrorKind;
    use crate::pack::PackWriter;

    #[test]
    fn index_file_round_trip_and_lookup() {
        let keys = Keys::derive(&DataKey::generate());
        let mut writer = PackWriter::new(&keys);
        writer.add(BlobType::Data, &keys.blob_id(b"a"), b"a");
        writer.add(BlobType::Tree, &keys.blob_id(b"t"), b"t");
        let pack = writer.finish();
        let file = IndexFile::new(vec![IndexPack::from(&pack)]);
        let bytes = file.encrypt(&keys);
        assert_eq!(IndexFile::decrypt(&keys, &bytes).unwrap(), file);

        let other = Keys::derive(&DataKey::generate());
        assert_eq!(
            IndexFile::decrypt(&other, &bytes).unwrap_err().kind(),
            ErrorKind::Integrity
        );

        let mut index = Index::default();
        index.add_pack(&file.packs[0]);
        assert_eq!(index.len(), 2);
        let loc = index.get(BlobType::Data, &keys.blob_id(b"a")).unwrap();
        assert_eq!(loc.pack, pack.id);
        assert_eq!(loc.salt, pack.salt);
        assert!(index.contains(BlobType::Tree, &keys.blob_id(b"t")));
        // Type is part of the key.
        assert!(!index.contains(BlobType::Tree, &keys.blob_id(b"a")));
    }
}
