//! Switching a default-key account to a private key: a new data key, every
//! backup copied under it, then everything written under the old, escrowed
//! key deleted from the service. The protocol is in `docs/format.md`
//! ("Switching the data key"); in short:
//!
//! 1. **Begin** (`begin_key_switch`): the password is checked (by escrowing
//!    the same old key again), a new data key and recovery code are made and
//!    the switch is recorded in the catalog. Nothing is uploaded.
//! 2. **Copy**: every old snapshot, oldest first, is copied into packs under
//!    the new key. No index or snapshot file is written yet, so the account
//!    stays an ordinary default-key account meanwhile (devices using the old
//!    key pass over the new packs, which they cannot open). Each copy's
//!    sealed snapshot file is recorded here.
//! 3. **Commit**: index files for the new packs, the recorded snapshot files
//!    (stored as recorded, so never twice), then `PUT /v1/account/key`
//!    with the new wraps, which deletes the escrow.
//! 4. **Delete** every object recorded as the old key's: snapshots, then
//!    indexes, then packs.
//!
//! Every step can be interrupted; `resume_key_switch` (or
//! `switch_to_private_key` again) carries on from the catalog record.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use coffer_engine::{Backend, BlobType, DataKey, FileKind, Id, Repository, Snapshot, SnapshotCopier};
use rusqlite::{params, OptionalExtension};

use crate::agent::{keys, now_ms, Agent};
use crate::encryption::{require_strong_key, wrap_new_key};
use crate::error::{Error, ErrorKind, Result};
use crate::service::{AccountKey, AccountKeyUpdate, ServiceClient, WrappedKeys};
use crate::types::{KeyProgress, KeyStatus};

const STAGE_COPYING: &str = "copying";
const STAGE_COMMITTING: &str = "committing";
const STAGE_COMMITTED: &str = "committed";

/// Copy rounds before giving up on backups that keep changing.
const MAX_ROUNDS: usize = 10;

/// Purpose of the recovery code sealed under the new key in the record.
const RECOVERY_NOTE: &str = "coffer key switch: recovery code";

/// What the progress reports say, step by step (shown as they are).
pub(crate) const STEP_PREPARING: &str = "Preparing the switch";
pub(crate) const STEP_UPLOADING: &str = "Uploading your backups again";
pub(crate) const STEP_CHECKING: &str = "Checking the new copies";
pub(crate) const STEP_COMMITTING: &str = "Switching to your private key";
pub(crate) const STEP_DELETING: &str = "Deleting the old copies";

/// The catalog's record of a switch in progress.
struct Record {
    stage: String,
    old_key_tag: String,
    wrapped: WrappedKeys,
    sealed_recovery: Vec<u8>,
}

/// One old snapshot's copy, sealed under the new key.
struct CopyRecord {
    old: Id,
    bytes: u64,
    new: Id,
    file: Vec<u8>,
}

fn key_tag(key: &DataKey) -> String {
    blake3::hash(key.as_bytes()).to_hex()[..16].to_owned()
}

fn kind_name(kind: FileKind) -> &'static str {
    kind.as_str()
}

fn blob_type_code(t: BlobType) -> i64 {
    match t {
        BlobType::Data => 0,
        BlobType::Tree => 1,
    }
}

fn parse_id(text: &str) -> Result<Id> {
    Id::from_hex(text).map_err(|_| Error::new(ErrorKind::Io, "the catalog's key switch record is damaged"))
}

fn id_from_blob(bytes: &[u8]) -> Option<Id> {
    <[u8; 32]>::try_from(bytes).ok().map(Id::from_bytes)
}

fn progress_of(stage: &str, done: u64, total: u64) -> KeyProgress {
    KeyProgress { stage: stage.to_owned(), done, total }
}

fn ignore_not_found(result: coffer_engine::Result<()>) -> Result<()> {
    match result {
        Err(e) if e.kind() != coffer_engine::ErrorKind::NotFound => Err(e.into()),
        _ => Ok(()),
    }
}

impl Agent {
    /// Whether this device has a key switch that has not finished.
    pub(crate) fn key_switch_pending(&self) -> Result<bool> {
        Ok(self.switch_record()?.is_some())
    }

    /// Switches a default-key account to a private key: a new data key,
    /// every backup uploaded again under it, the escrowed key removed from
    /// the service, then every object written under the old key deleted.
    /// Returns the new recovery code. `progress` reports each step.
    ///
    /// Interrupted, it is resumed by calling it again (or
    /// [`Agent::resume_key_switch`]) with the same new key and the password;
    /// nothing copied is uploaded again. See [`Agent::begin_key_switch`].
    ///
    /// # Errors
    /// `InvalidInput` for a weak key or an account that already has a
    /// private key; `InvalidCredentials` for a wrong password (nothing is
    /// changed or uploaded then); `WrongKey` when another switch is in
    /// progress with another key; `Integrity` naming a damaged backup that
    /// cannot be copied (repair it first); `Busy`; `Network`.
    pub fn switch_to_private_key(&self, new_key: &str, password: &str, progress: &mut dyn FnMut(&KeyProgress)) -> Result<String> {
        let code = self.begin_key_switch(new_key, password)?;
        self.resume_key_switch(new_key, password, progress)?;
        Ok(code)
    }

    /// The quick first half of [`Agent::switch_to_private_key`]: checks the
    /// key's strength and the password, makes the new data key and recovery
    /// code and records the switch on this device. Uploads nothing; returns
    /// the recovery code, so the app can show it while the work runs. When a
    /// switch is already recorded, `new_key` must be its key and its code is
    /// returned again.
    ///
    /// No key is kept in a plain file: the record holds the new data key only
    /// wrapped under `new_key` (Argon2id, as the service will hold it) and
    /// the recovery code only sealed under the new data key. So finishing an
    /// interrupted switch needs the new key typed again.
    ///
    /// # Errors
    /// As [`Agent::switch_to_private_key`].
    pub fn begin_key_switch(&self, new_key: &str, password: &str) -> Result<String> {
        if let Some(record) = self.switch_record()? {
            let key = unwrap_new_key(&record, new_key)?;
            return recovery_code(&record, &key);
        }
        let email = self.account_email()?.unwrap_or_default();
        require_strong_key(new_key, &[email.as_str()])?;
        let service = self.service()?;
        let old_key = match service.account_key()? {
            AccountKey::Default { key, .. } => key,
            AccountKey::Private { .. } => {
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    "this account already has a private key: change it instead",
                ))
            }
        };
        // The password is checked before anything else happens: escrowing
        // the same key again changes nothing else.
        service.put_key(&AccountKeyUpdate::Default(&old_key), password)?;
        let key = DataKey::generate();
        let (wrapped, code) = wrap_new_key(&key, new_key)?;
        let code = code.to_string();
        let sealed = key.seal_note(RECOVERY_NOTE, code.as_bytes());
        let wrapped_json = serde_json::to_string(&wrapped).expect("wrapped keys serialize");
        self.catalog().with_connection(|conn| {
            let tx = conn.transaction()?;
            for table in ["key_switch_old", "key_switch_new", "key_switch_copies", "key_switch_blobs"] {
                tx.execute(&format!("DELETE FROM {table}"), [])?;
            }
            tx.execute(
                "INSERT INTO key_switch (id, started_at, stage, old_key_tag, wrapped_keys, sealed_recovery)
                 VALUES (1, ?1, ?2, ?3, ?4, ?5)",
                params![now_ms(), STAGE_COPYING, key_tag(&old_key), wrapped_json, sealed],
            )?;
            tx.commit()
        })?;
        tracing::info!("key switch to a private key recorded");
        Ok(code)
    }

    /// Runs (or carries on) the switch recorded by
    /// [`Agent::begin_key_switch`] until it is finished: copies, commits,
    /// deletes the old objects. `password` is needed until the switch has
    /// committed. Returns the key status (private, unlocked here).
    ///
    /// # Errors
    /// `NotFound` when no switch is recorded; `ConfirmationRequired` when
    /// deleting the old copies needs the two-factor code too (confirm with
    /// [`Agent::confirm_identity`] and resume); otherwise as
    /// [`Agent::switch_to_private_key`]. When the account's key was changed
    /// elsewhere meanwhile, the switch is abandoned (`InvalidInput`).
    pub fn resume_key_switch(&self, new_key: &str, password: &str, progress: &mut dyn FnMut(&KeyProgress)) -> Result<KeyStatus> {
        let record = self
            .switch_record()?
            .ok_or_else(|| Error::new(ErrorKind::NotFound, "no key switch is in progress on this device"))?;
        let key = unwrap_new_key(&record, new_key)?;
        // The switch ends by deleting the old copies, which needs the
        // person's confirmation: asked for before anything is uploaded.
        self.ensure_confirmed(password)?;
        let _guard = self.begin_exclusive("switch keys")?;
        progress(&progress_of(STEP_PREPARING, 0, 0));
        let service = self.service()?;
        let backend: Arc<dyn Backend> = Arc::new(service.clone());

        // Where are we? The service's key record is the truth about the commit.
        if record.stage != STAGE_COMMITTED {
            match service.account_key()? {
                // Committed (and maybe re-wrapped by `change_key` since: the
                // recovery wrap stays).
                AccountKey::Private { wrapped, .. } if shares_a_wrap(&wrapped, &record.wrapped) => {}
                AccountKey::Default { key: old, .. } if key_tag(&old) == record.old_key_tag => {
                    // Checked before this run uploads anything.
                    service.put_key(&AccountKeyUpdate::Default(&old), password)?;
                    let dst = if record.stage == STAGE_COPYING {
                        Some(self.copy_everything(&backend, &old, &key, progress)?)
                    } else {
                        None
                    };
                    self.commit(&service, &backend, &old, &key, &record, dst, password, progress)?;
                }
                _ => {
                    self.clear_switch_record()?;
                    return Err(Error::new(
                        ErrorKind::InvalidInput,
                        "the account's key was changed on another device while this switch was waiting, so it was abandoned; \
                         nothing was lost (what it had uploaded is cleaned up by the next prune)",
                    ));
                }
            }
        }
        self.mark_committed(&key, record.stage != STAGE_COMMITTED)?;
        // The copy may have outlasted the confirmation.
        self.ensure_confirmed(password)?;
        self.delete_old_objects(&backend, progress)?;
        self.clear_switch_record()?;
        self.remove_old_caches(&record.old_key_tag);
        tracing::info!("key switch to a private key finished");
        self.key_status()
    }

    /// Step 2: copies every old snapshot not copied yet (oldest first),
    /// until every snapshot the old key has has its copy and the copies are
    /// whole. Returns the new key's repository (its packs adopted, unindexed).
    fn copy_everything(
        &self,
        backend: &Arc<dyn Backend>,
        old_key: &DataKey,
        new_key: &DataKey,
        progress: &mut dyn FnMut(&KeyProgress),
    ) -> Result<Repository> {
        let mut src = self.open_old(backend, old_key)?;
        let mut dst = self.open_new(backend, new_key)?;
        for _round in 0..MAX_ROUNDS {
            let snapshots = src.snapshots().map_err(|e| damaged(e, "a backup"))?;
            let copied = self.copies()?;
            let todo: Vec<&(Id, Snapshot)> = snapshots.iter().filter(|(id, _)| !copied.contains_key(id)).collect();
            if todo.is_empty() {
                // Every old snapshot has its copy: check them (a prune run
                // by a device of the old key may have taken new packs)...
                if self.check_copies(backend, new_key, &mut dst, &snapshots, progress)? {
                    // ...and look once more for a backup made meanwhile by
                    // a device of the old key, right before committing.
                    drop(src);
                    src = self.open_old(backend, old_key)?;
                    let listed: HashSet<Id> = src.snapshots().map_err(|e| damaged(e, "a backup"))?.into_iter().map(|(id, _)| id).collect();
                    if listed.iter().all(|id| copied.contains_key(id)) {
                        return Ok(dst);
                    }
                }
                continue;
            }
            let total: u64 = snapshots.iter().map(|(_, s)| s.bytes).sum();
            let mut done: u64 = snapshots.iter().filter(|(id, _)| copied.contains_key(id)).map(|(_, s)| s.bytes).sum();
            progress(&progress_of(STEP_UPLOADING, done, total));
            let mut copier = SnapshotCopier::new(&src, &mut dst);
            for (t, old, new) in self.blob_map()? {
                copier.remember(t, old, new);
            }
            for (id, snapshot) in todo {
                let base = done;
                let result = copier.copy(snapshot, &mut |bytes| progress(&progress_of(STEP_UPLOADING, base + bytes, total)));
                // What was stored is recorded even when the copy failed.
                let (mappings, packs) = (copier.take_mappings(), copier.take_packs());
                let copy = match result {
                    Ok(copy) => copy,
                    Err(e) => {
                        self.record_copy(&mappings, &packs, None)?;
                        return Err(damaged(e, &format!("the backup of {}", short_time(snapshot.time))));
                    }
                };
                let (new, file) = copier.destination().seal_snapshot(&copy);
                self.record_copy(&mappings, &packs, Some(&CopyRecord { old: *id, bytes: snapshot.bytes, new, file }))?;
                done += snapshot.bytes;
            }
            drop(copier);
            // Another device of the old key may have backed up meanwhile.
            drop(src);
            src = self.open_old(backend, old_key)?;
        }
        Err(Error::new(ErrorKind::Server, "the backups kept changing while they were copied; try the switch again later"))
    }

    /// The new key's repository as this switch sees it: the old objects
    /// are passed over, and so is every index file this switch did not
    /// write (before the commit there is none of its own), so one written
    /// meanwhile by a device of the old key cannot stop the switch. Its
    /// packs are adopted from their headers.
    fn open_new(&self, backend: &Arc<dyn Backend>, new_key: &DataKey) -> Result<Repository> {
        let mut ignore = self.old_objects()?;
        let new = self.new_objects()?;
        for info in backend.list(FileKind::Index)? {
            if !new.contains(&(FileKind::Index, info.id)) {
                ignore.insert((FileKind::Index, info.id));
            }
        }
        Ok(Repository::open_ignoring(Arc::clone(backend), new_key, &ignore)?)
    }

    /// The old key's repository, passing over the packs this switch
    /// uploaded, and every object it reads as its own recorded as old.
    fn open_old(&self, backend: &Arc<dyn Backend>, old_key: &DataKey) -> Result<Repository> {
        let new = self.new_objects()?;
        let account = self.catalog().setting(keys::ACCOUNT_ID)?.unwrap_or_default();
        let cache = self.config_dir().join("cache").join(format!("{account}-{}", key_tag(old_key))).join("key-switch");
        let src = match Repository::open_with_cache_ignoring(Arc::clone(backend), old_key, &cache, &new) {
            Ok(repo) => repo,
            Err(e) if matches!(e.kind(), coffer_engine::ErrorKind::Io | coffer_engine::ErrorKind::Storage) => {
                tracing::warn!("the index cache at {} is unavailable ({e}); keeping the index in memory", cache.display());
                Repository::open_ignoring(Arc::clone(backend), old_key, &new)?
            }
            Err(e) => return Err(e.into()),
        };
        self.add_old_objects(&src.own_objects()?)?;
        Ok(src)
    }

    /// Checks every recorded copy whose old snapshot still exists against
    /// the new key's storage. A copy that lost something is forgotten (with
    /// every blob mapping, so it is copied again). True when all are whole.
    fn check_copies(
        &self,
        backend: &Arc<dyn Backend>,
        new_key: &DataKey,
        dst: &mut Repository,
        snapshots: &[(Id, Snapshot)],
        progress: &mut dyn FnMut(&KeyProgress),
    ) -> Result<bool> {
        if !dst.missing_packs()?.is_empty() {
            // Packs went away: learn the storage's truth from the headers.
            *dst = self.open_new(backend, new_key)?;
        }
        let copies = self.copies()?;
        let total = snapshots.len() as u64;
        let mut verified = HashSet::new();
        let mut whole = true;
        for (i, (id, _)) in snapshots.iter().enumerate() {
            progress(&progress_of(STEP_CHECKING, i as u64, total));
            let Some(copy) = copies.get(id) else { continue };
            let snapshot = dst.unseal_snapshot(&copy.file)?;
            if let Some(problem) = dst.find_missing(&snapshot, &mut verified)? {
                tracing::warn!("the copy of snapshot {id} is incomplete ({problem}); copying it again");
                self.forget_copy(id)?;
                whole = false;
            }
        }
        progress(&progress_of(STEP_CHECKING, total, total));
        Ok(whole)
    }

    /// Step 3: index the new packs, store the copies, swap the key on the service.
    #[allow(clippy::too_many_arguments)]
    fn commit(
        &self,
        service: &ServiceClient,
        backend: &Arc<dyn Backend>,
        old_key: &DataKey,
        new_key: &DataKey,
        record: &Record,
        dst: Option<Repository>,
        password: &str,
        progress: &mut dyn FnMut(&KeyProgress),
    ) -> Result<()> {
        // The copy may have taken hours: make sure the key swap below will
        // be accepted before anything of the new key becomes visible.
        service.put_key(&AccountKeyUpdate::Default(old_key), password)?;
        // From here on the new key's files are visible: never go back to copying.
        self.set_stage(STAGE_COMMITTING)?;
        let mut dst = match dst {
            Some(dst) => dst,
            None => self.open_new(backend, new_key)?,
        };
        let indexes = dst.index_unindexed_packs()?;
        self.add_new_objects(FileKind::Index, &indexes)?;
        let present: HashSet<Id> = backend.list(FileKind::Snapshot)?.into_iter().map(|o| o.id).collect();
        let copies: Vec<CopyRecord> = {
            let mut all: Vec<CopyRecord> = self.copies()?.into_values().collect();
            all.sort_by_key(|c| c.old);
            all
        };
        let total = copies.len() as u64;
        for (i, copy) in copies.iter().enumerate() {
            progress(&progress_of(STEP_COMMITTING, i as u64, total));
            // An old snapshot forgotten meanwhile (retention on another
            // device) is not brought back.
            if present.contains(&copy.old) || present.contains(&copy.new) {
                backend.put(FileKind::Snapshot, &copy.new, &copy.file)?;
            }
        }
        service.put_key(&AccountKeyUpdate::Private(&record.wrapped), password)?;
        progress(&progress_of(STEP_COMMITTING, total, total));
        Ok(())
    }

    /// After the service holds the new wraps: this device uses the new key
    /// (unlocked, remembered where there is a keychain), and its file cache
    /// names the new blob ids, so the next backup reads nothing unchanged.
    fn mark_committed(&self, new_key: &DataKey, remap_files: bool) -> Result<()> {
        self.catalog().with_connection(|conn| {
            let tx = conn.transaction()?;
            if remap_files {
                remap_file_cache(&tx)?;
            }
            tx.execute("UPDATE key_switch SET stage = ?1", [STAGE_COMMITTED])?;
            tx.commit()
        })?;
        self.catalog().set_setting(keys::KEY_MODE, "private")?;
        self.keep_key(new_key, true)
    }

    /// Step 4: deletes every recorded old object still stored: snapshots,
    /// then indexes, then packs.
    fn delete_old_objects(&self, backend: &Arc<dyn Backend>, progress: &mut dyn FnMut(&KeyProgress)) -> Result<()> {
        let old = self.old_objects()?;
        let mut todo = Vec::new();
        for kind in [FileKind::Snapshot, FileKind::Index, FileKind::Pack] {
            let mut ids: Vec<Id> = backend
                .list(kind)?
                .into_iter()
                .map(|o| o.id)
                .filter(|id| old.contains(&(kind, *id)))
                .collect();
            ids.sort();
            todo.extend(ids.into_iter().map(|id| (kind, id)));
        }
        let total = todo.len() as u64;
        for (done, (kind, id)) in todo.iter().enumerate() {
            progress(&progress_of(STEP_DELETING, done as u64, total));
            ignore_not_found(backend.remove(*kind, id))?;
        }
        progress(&progress_of(STEP_DELETING, total, total));
        Ok(())
    }

    /// The old key's index caches on this device are of no use any more.
    fn remove_old_caches(&self, old_key_tag: &str) {
        let Ok(Some(account)) = self.catalog().setting(keys::ACCOUNT_ID) else { return };
        let dir = self.config_dir().join("cache").join(format!("{account}-{old_key_tag}"));
        if dir.exists() {
            if let Err(e) = std::fs::remove_dir_all(&dir) {
                tracing::warn!("could not remove {}: {e}", dir.display());
            }
        }
    }

    fn switch_record(&self) -> Result<Option<Record>> {
        let row = self.catalog().with_connection(|conn| {
            conn.query_row(
                "SELECT stage, old_key_tag, wrapped_keys, sealed_recovery FROM key_switch WHERE id = 1",
                [],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, Vec<u8>>(3)?)),
            )
            .optional()
        })?;
        let Some((stage, old_key_tag, wrapped, sealed_recovery)) = row else { return Ok(None) };
        let wrapped: WrappedKeys = serde_json::from_str(&wrapped)
            .map_err(|e| Error::new(ErrorKind::Io, format!("the catalog's key switch record is damaged: {e}")))?;
        Ok(Some(Record { stage, old_key_tag, wrapped, sealed_recovery }))
    }

    fn set_stage(&self, stage: &str) -> Result<()> {
        self.catalog().with_connection(|conn| conn.execute("UPDATE key_switch SET stage = ?1", [stage]).map(|_| ()))
    }

    fn clear_switch_record(&self) -> Result<()> {
        self.catalog().with_connection(|conn| {
            let tx = conn.transaction()?;
            for table in ["key_switch", "key_switch_old", "key_switch_new", "key_switch_copies", "key_switch_blobs"] {
                tx.execute(&format!("DELETE FROM {table}"), [])?;
            }
            tx.commit()
        })
    }

    fn add_old_objects(&self, objects: &[(FileKind, Id)]) -> Result<()> {
        self.catalog().with_connection(|conn| {
            let tx = conn.transaction()?;
            {
                let mut insert = tx.prepare("INSERT OR IGNORE INTO key_switch_old (kind, id) VALUES (?1, ?2)")?;
                for (kind, id) in objects {
                    insert.execute(params![kind_name(*kind), id.to_hex()])?;
                }
            }
            tx.commit()
        })
    }

    fn add_new_objects(&self, kind: FileKind, ids: &[Id]) -> Result<()> {
        self.catalog().with_connection(|conn| {
            let tx = conn.transaction()?;
            {
                let mut insert = tx.prepare("INSERT OR IGNORE INTO key_switch_new (kind, id) VALUES (?1, ?2)")?;
                for id in ids {
                    insert.execute(params![kind_name(kind), id.to_hex()])?;
                }
            }
            tx.commit()
        })
    }

    fn old_objects(&self) -> Result<HashSet<(FileKind, Id)>> {
        self.objects("key_switch_old")
    }

    fn new_objects(&self) -> Result<HashSet<(FileKind, Id)>> {
        self.objects("key_switch_new")
    }

    fn objects(&self, table: &str) -> Result<HashSet<(FileKind, Id)>> {
        let rows: Vec<(String, String)> = self.catalog().with_connection(|conn| {
            let mut stmt = conn.prepare(&format!("SELECT kind, id FROM {table}"))?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        })?;
        rows.into_iter()
            .map(|(kind, id)| Ok((kind.parse::<FileKind>().map_err(Error::from)?, parse_id(&id)?)))
            .collect()
    }

    fn copies(&self) -> Result<HashMap<Id, CopyRecord>> {
        let rows: Vec<(String, i64, String, Vec<u8>)> = self.catalog().with_connection(|conn| {
            let mut stmt = conn.prepare("SELECT old_snapshot, bytes, new_snapshot, new_file FROM key_switch_copies")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
            rows.collect()
        })?;
        rows.into_iter()
            .map(|(old, bytes, new, file)| {
                let old = parse_id(&old)?;
                Ok((old, CopyRecord { old, bytes: bytes as u64, new: parse_id(&new)?, file }))
            })
            .collect()
    }

    fn forget_copy(&self, old: &Id) -> Result<()> {
        self.catalog().with_connection(|conn| {
            let tx = conn.transaction()?;
            tx.execute("DELETE FROM key_switch_copies WHERE old_snapshot = ?1", [old.to_hex()])?;
            // Which mappings point into lost packs is not known: drop them
            // all; the copier checks the new storage for each blob anyway.
            tx.execute("DELETE FROM key_switch_blobs", [])?;
            tx.commit()
        })
    }

    fn blob_map(&self) -> Result<Vec<(BlobType, Id, Id)>> {
        let rows: Vec<(i64, Vec<u8>, Vec<u8>)> = self.catalog().with_connection(|conn| {
            let mut stmt = conn.prepare("SELECT type, old, new FROM key_switch_blobs")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            rows.collect()
        })?;
        Ok(rows
            .into_iter()
            .filter_map(|(t, old, new)| {
                let t = if t == 0 { BlobType::Data } else { BlobType::Tree };
                Some((t, id_from_blob(&old)?, id_from_blob(&new)?))
            })
            .collect())
    }

    /// Records blobs and packs stored and, when given, a finished copy, in
    /// one transaction.
    fn record_copy(&self, mappings: &[(BlobType, Id, Id)], packs: &[Id], copy: Option<&CopyRecord>) -> Result<()> {
        self.catalog().with_connection(|conn| {
            let tx = conn.transaction()?;
            {
                let mut insert = tx.prepare("INSERT OR IGNORE INTO key_switch_new (kind, id) VALUES (?1, ?2)")?;
                for pack in packs {
                    insert.execute(params![kind_name(FileKind::Pack), pack.to_hex()])?;
                }
            }
            {
                let mut insert = tx.prepare("INSERT OR REPLACE INTO key_switch_blobs (type, old, new) VALUES (?1, ?2, ?3)")?;
                for (t, old, new) in mappings {
                    insert.execute(params![blob_type_code(*t), old.as_bytes().as_slice(), new.as_bytes().as_slice()])?;
                }
            }
            if let Some(copy) = copy {
                tx.execute(
                    "INSERT OR REPLACE INTO key_switch_copies (old_snapshot, copied_at, bytes, new_snapshot, new_file)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![copy.old.to_hex(), now_ms(), copy.bytes as i64, copy.new.to_hex(), copy.file],
                )?;
            }
            tx.commit()
        })
    }
}

/// The new data key, opened from the record with the new key the person typed.
fn unwrap_new_key(record: &Record, new_key: &str) -> Result<DataKey> {
    record.wrapped.passphrase.unwrap(new_key).map_err(|e| match e.kind() {
        coffer_engine::ErrorKind::Integrity => Error::new(
            ErrorKind::WrongKey,
            "a switch to another private key is in progress on this device: type that key to finish it",
        ),
        _ => Error::from(e),
    })
}

fn recovery_code(record: &Record, key: &DataKey) -> Result<String> {
    let code = key.open_note(RECOVERY_NOTE, &record.sealed_recovery)?;
    String::from_utf8(code).map_err(|_| Error::new(ErrorKind::Io, "the catalog's key switch record is damaged"))
}

/// Whether the service's wraps are this switch's, maybe re-wrapped since
/// (`change_key` replaces the passphrase wrap and keeps the recovery one).
fn shares_a_wrap(service: &WrappedKeys, ours: &WrappedKeys) -> bool {
    service.passphrase == ours.passphrase || service.recovery == ours.recovery
}

/// Names a backup that cannot be copied and what to do about it.
fn damaged(err: coffer_engine::Error, what: &str) -> Error {
    match err.kind() {
        coffer_engine::ErrorKind::Integrity | coffer_engine::ErrorKind::NotFound => Error::new(
            ErrorKind::Integrity,
            format!(
                "{what} cannot be copied under the new key ({}); run a check and repair it (or forget it), then switch again — nothing was deleted",
                err.message()
            ),
        ),
        _ => Error::from(err),
    }
}

fn short_time(unix_ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(unix_ms)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| unix_ms.to_string())
}

/// Rewrites the file cache's content ids from the old key's to the new
/// key's (a file any of whose chunks has no mapping is forgotten: the next
/// backup reads it again).
fn remap_file_cache(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<()> {
    let rows: Vec<(String, Vec<u8>)> = {
        let mut stmt = tx.prepare("SELECT path, content FROM files")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    let mut lookup = tx.prepare("SELECT new FROM key_switch_blobs WHERE type = 0 AND old = ?1")?;
    let mut update = tx.prepare("UPDATE files SET content = ?2 WHERE path = ?1")?;
    let mut delete = tx.prepare("DELETE FROM files WHERE path = ?1")?;
    for (path, content) in rows {
        let mut mapped = Vec::with_capacity(content.len());
        let mut whole = content.len() % 32 == 0;
        for old in content.chunks_exact(32) {
            if !whole {
                break;
            }
            match lookup.query_row([old], |r| r.get::<_, Vec<u8>>(0)).optional()? {
                Some(new) if new.len() == 32 => mapped.extend_from_slice(&new),
                _ => whole = false,
            }
        }
        if whole {
            update.execute(params![path, mapped])?;
        } else {
            delete.execute([path])?;
        }
    }
    tx.execute("DELETE FROM files_pending", [])?;
    Ok(())
}
