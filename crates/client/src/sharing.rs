//! Sharing a file or folder from a backup with contacts, end to end
//! encrypted: the agent restores the selection as it was in the chosen
//! backup into a private scratch folder, re-encrypts it under a fresh share
//! key ([`crate::share_format`]), uploads it to the account's share area and
//! completes the share; the service then mails the recipients a notice with
//! the link *without* its key. The key lives only in the link's fragment and
//! never leaves this device: the agent hands the full link back as a
//! [`ShareLink`], which never serialises, so it cannot reach the catalog, a
//! log or the service by accident; the person sends it to the recipients.

use std::path::{Path, PathBuf};

use rand::RngCore;
use zeroize::Zeroizing;

use crate::agent::Agent;
use crate::error::{Error, ErrorKind, Result};
use crate::service::NewShare;
use crate::share_format::{parts_for, seal_manifest, seal_stream, ManifestFile, ShareKey, ShareManifest, MANIFEST_FORMAT};
use crate::types::{ConflictPolicy, RestoreRequest, ShareCreated, ShareInfo, ShareProgress, ShareRequest};

/// Lifetime of a share when none is asked for, in days.
pub const DEFAULT_SHARE_DAYS: u32 = 7;
/// The longest lifetime the service allows, in days.
pub const MAX_SHARE_DAYS: u32 = 90;
/// The most recipients one share may be mailed to.
pub const MAX_RECIPIENTS: usize = 20;

/// A share's link, `<service>/s/<id>#<key>`: a secret. Not `Serialize`, and
/// `Debug` does not print it.
pub struct ShareLink(Zeroizing<String>);

impl ShareLink {
    /// The link, to show or hand to the person once.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ShareLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ShareLink(<secret>)")
    }
}

impl ShareCreated {
    /// The desktop's one answer that carries the link, for the person to
    /// see once (docs/ipc.md, *Secrets*).
    pub fn shown_once(share: ShareInfo, link: ShareLink) -> ShareCreated {
        ShareCreated { share, link: link.expose().to_owned() }
    }
}

/// The scratch folder the selection is restored into; removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(config_dir: &Path) -> Result<Scratch> {
        let mut random = [0u8; 8];
        rand::rngs::OsRng.fill_bytes(&mut random);
        let path = config_dir.join("tmp").join(format!("share-{}", hex::encode(random)));
        std::fs::create_dir_all(&path).map_err(|e| Error::io(format!("cannot create {}", path.display()), e))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| Error::io(format!("cannot protect {}", path.display()), e))?;
        }
        Ok(Scratch(path))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Selected {
    disk: PathBuf,
    manifest: ManifestFile,
}

fn check_request(request: &ShareRequest) -> Result<()> {
    let invalid = |m: String| Err(Error::new(ErrorKind::InvalidInput, m));
    if !request.path.trim().starts_with('/') {
        return invalid("path: choose a file or folder from a backup by its full path".into());
    }
    if request.recipients.len() > MAX_RECIPIENTS {
        return invalid(format!("to: at most {MAX_RECIPIENTS} recipients"));
    }
    for email in &request.recipients {
        let email = email.trim();
        let ok = email.rsplit_once('@').is_some_and(|(l, d)| !l.is_empty() && !d.is_empty()) && !email.contains(char::is_whitespace);
        if !ok {
            return invalid(format!("to: “{email}” does not look like name@example.com"));
        }
    }
    if let Some(days) = request.expires_in_days {
        if !(1..=MAX_SHARE_DAYS).contains(&days) {
            return invalid(format!("expires: must be from 1 to {MAX_SHARE_DAYS} days"));
        }
    }
    if let Some(max) = request.max_downloads {
        if !(1..=1000).contains(&max) {
            return invalid("max downloads: must be from 1 to 1000".into());
        }
    }
    if let Some(password) = &request.password {
        if password.chars().count() < 8 {
            return invalid("password: a share's password needs at least 8 characters".into());
        }
    }
    Ok(())
}

/// Where the engine restored `path` (the restore of root `/a/b/Docs` goes
/// to `<target>/Docs`).
fn restored_location(target: &Path, roots: &[String], path: &str) -> Option<PathBuf> {
    let root = roots.iter().find(|r| path == r.as_str() || path.starts_with(&format!("{}/", r.trim_end_matches('/'))))?;
    let name = Path::new(root).file_name()?;
    let inside = path[root.len()..].trim_start_matches('/');
    Some(if inside.is_empty() { target.join(name) } else { target.join(name).join(inside) })
}

fn mtime_ms(meta: &std::fs::Metadata) -> Option<i64> {
    let time = meta.modified().ok()?;
    let since = time.duration_since(std::time::UNIX_EPOCH).ok()?;
    i64::try_from(since.as_millis()).ok()
}

/// The regular files under `item` (itself, when it is a file), sorted,
/// with their manifest entries laid out part after part.
fn select_files(item: &Path) -> Result<Vec<Selected>> {
    let name = item.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "shared".into());
    let mut files = Vec::new();
    let mut next_part = 0u64;
    for entry in walkdir::WalkDir::new(item).follow_links(false).sort_by_file_name() {
        let entry = entry.map_err(|e| Error::new(ErrorKind::Io, format!("cannot read the restored files: {e}")))?;
        if !entry.file_type().is_file() {
            continue;
        }
        let meta = entry.metadata().map_err(|e| Error::new(ErrorKind::Io, format!("cannot read {}: {e}", entry.path().display())))?;
        let rel = entry.path().strip_prefix(item).unwrap_or(Path::new(""));
        let path = if rel.as_os_str().is_empty() {
            name.clone()
        } else {
            let inner: Vec<String> = rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
            format!("{name}/{}", inner.join("/"))
        };
        let parts = parts_for(meta.len());
        files.push(Selected {
            disk: entry.path().to_path_buf(),
            manifest: ManifestFile { path, size: meta.len(), mtime: mtime_ms(&meta), first_part: next_part, parts },
        });
        next_part += parts;
    }
    Ok(files)
}

impl Agent {
    /// Shares a file or folder as it was in a backup: restores it into a
    /// private scratch folder, re-encrypts it under a fresh share key,
    /// uploads it to the share area (counted against the quota) and
    /// completes the share, which mails the recipients a notice without the
    /// key. Returns the share and its full link (shown to the person once to
    /// send on; nothing else keeps it, and the service never sees the key).
    ///
    /// # Errors
    /// `InvalidInput` for a relative path, a malformed email or option (no
    /// share is made then); `NotFound` when the backup has no such path or
    /// it holds no files; `QuotaExceeded`; `Busy`; `Network`; `Io`. A share
    /// that failed half-way is revoked, so nothing of it is left.
    pub fn share(&self, request: &ShareRequest, progress: &mut dyn FnMut(&ShareProgress)) -> Result<(ShareInfo, ShareLink)> {
        check_request(request)?;
        let path = request.path.trim().trim_end_matches('/').to_owned();
        let path = if path.is_empty() { "/".to_owned() } else { path };
        let wanted = request.snapshot_id.as_deref().unwrap_or("latest").trim().to_ascii_lowercase();
        let snapshots = self.snapshots()?;
        let mut matching = snapshots.iter().filter(|s| wanted == "latest" || wanted.is_empty() || s.id.starts_with(&wanted));
        let snapshot = match (matching.next(), matching.next()) {
            (Some(one), None) => one.clone(),
            (Some(newest), Some(_)) if wanted == "latest" || wanted.is_empty() => newest.clone(),
            (Some(_), Some(_)) => {
                return Err(Error::new(ErrorKind::InvalidInput, format!("“{wanted}” matches several backups; type more of the id")))
            }
            (None, _) => return Err(Error::new(ErrorKind::NotFound, format!("no backup {wanted}"))),
        };
        let scratch = Scratch::new(self.config_dir())?;
        let target = scratch.0.join("restored");
        self.restore(
            &RestoreRequest {
                snapshot_id: snapshot.id.clone(),
                paths: vec![path.clone()],
                target: Some(target.to_string_lossy().into_owned()),
                conflict: ConflictPolicy::Overwrite,
            },
            &mut |_| {},
        )?;
        let item = restored_location(&target, &snapshot.roots, &path)
            .filter(|p| p.symlink_metadata().is_ok())
            .ok_or_else(|| Error::new(ErrorKind::NotFound, format!("{path} is not in this backup")))?;
        let files = select_files(&item)?;
        if files.is_empty() {
            return Err(Error::new(ErrorKind::NotFound, format!("{path} holds no files to share")));
        }
        let parts: u64 = files.iter().map(|f| f.manifest.parts).sum();
        let recipients: Vec<String> = request.recipients.iter().map(|e| e.trim().to_lowercase()).collect();
        let service = self.service()?;
        let created = service.create_share(&NewShare {
            recipients: &recipients,
            expires_in_days: request.expires_in_days.unwrap_or(DEFAULT_SHARE_DAYS),
            password: request.password.as_deref().filter(|p| !p.is_empty()),
            max_downloads: request.max_downloads,
            parts,
        })?;
        let key = ShareKey::random();
        let uploaded = (|| -> Result<u64> {
            let manifest = ShareManifest {
                format: MANIFEST_FORMAT.into(),
                name: item.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
                created_at: crate::agent::now_ms(),
                files: files.iter().map(|f| f.manifest.clone()).collect(),
            };
            service.put_share_part(&created.id, None, seal_manifest(&key, &created.id, &manifest)?)?;
            let mut report = ShareProgress {
                files_done: 0,
                files_total: files.len() as u64,
                bytes_done: 0,
                bytes_total: files.iter().map(|f| f.manifest.size).sum(),
            };
            progress(&report);
            for (index, file) in files.iter().enumerate() {
                let stream = u32::try_from(index).map_err(|_| Error::new(ErrorKind::InvalidInput, "too many files to share at once"))?;
                let mut reader = std::fs::File::open(&file.disk).map_err(|e| Error::io(format!("cannot read {}", file.disk.display()), e))?;
                let mut part = file.manifest.first_part;
                let (size, count) = seal_stream(&key, &created.id, stream, &mut reader, &mut |sealed| {
                    let plain = sealed.len() as u64 - 16 * sealed.len().div_ceil(crate::share_format::SEALED_CHUNK_BYTES) as u64;
                    service.put_share_part(&created.id, Some(part), sealed)?;
                    part += 1;
                    report.bytes_done += plain;
                    progress(&report);
                    Ok(())
                })?;
                if size != file.manifest.size || count != file.manifest.parts {
                    return Err(Error::new(ErrorKind::Io, format!("{} changed while it was being shared", file.manifest.path)));
                }
                report.files_done += 1;
                progress(&report);
            }
            // The key stays here: the service mails only the link without it.
            service.complete_share(&created.id)
        })();
        if let Err(err) = uploaded {
            // Leave nothing half-made behind (best effort: the service also
            // removes abandoned uploads after a day).
            let _ = service.revoke_share(&created.id);
            return Err(err);
        }
        let link = ShareLink(Zeroizing::new(format!("{}/s/{}#{}", service.base_url(), created.id, key.to_link_text().as_str())));
        let info = service
            .shares()?
            .into_iter()
            .find(|s| s.id == created.id)
            .ok_or_else(|| Error::new(ErrorKind::Server, "the new share is missing from the list"))?;
        Ok((info, link))
    }

    /// The account's shares with their state, newest first.
    ///
    /// # Errors
    /// `NotSignedIn`, `Unauthorized`, `Network`.
    pub fn shares(&self) -> Result<Vec<ShareInfo>> {
        self.service()?.shares()
    }

    /// Revokes a share: its link fails at once, and its data and recipients'
    /// addresses are removed. Returns the shares left.
    ///
    /// # Errors
    /// `InvalidInput` for a malformed id; `NotFound`; `NotSignedIn`; `Network`.
    pub fn revoke_share(&self, id: &str) -> Result<Vec<ShareInfo>> {
        let id = id.trim();
        if id.len() != 32 || !id.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(Error::new(ErrorKind::InvalidInput, format!("“{id}” is not a share id (see `coffer shares`)")));
        }
        let service = self.service()?;
        service.revoke_share(&id.to_ascii_lowercase())?;
        service.shares()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restored_paths_follow_the_engine() {
        let roots = vec!["/home/ann/Docs".to_owned(), "/srv/x".to_owned()];
        let t = Path::new("/tmp/t");
        assert_eq!(restored_location(t, &roots, "/home/ann/Docs"), Some(t.join("Docs")));
        assert_eq!(restored_location(t, &roots, "/home/ann/Docs/a/b.txt"), Some(t.join("Docs/a/b.txt")));
        assert_eq!(restored_location(t, &roots, "/home/ann/Docsx"), None);
        assert_eq!(restored_location(t, &roots, "/elsewhere"), None);
    }

    #[test]
    fn bad_requests_are_refused_before_anything_happens() {
        let ok = ShareRequest { path: "/a".into(), recipients: vec!["b@example.com".into()], ..ShareRequest::default() };
        assert!(check_request(&ok).is_ok());
        for bad in [
            ShareRequest { path: "relative".into(), ..ok.clone() },
            ShareRequest { recipients: vec!["nobody".into()], ..ok.clone() },
            ShareRequest { expires_in_days: Some(91), ..ok.clone() },
            ShareRequest { max_downloads: Some(0), ..ok.clone() },
            ShareRequest { password: Some("short".into()), ..ok.clone() },
        ] {
            assert_eq!(check_request(&bad).unwrap_err().kind, ErrorKind::InvalidInput, "{bad:?}");
        }
    }
}
