//! A consistent copy of a local index while it serves and takes writes, from this process or
//! another one.
//!
//! Why this is consistent without stopping writers: the manifest is the commit point of every
//! write and is replaced by an atomic rename, so one read of it is one generation; the segments
//! it names never change afterwards. The copy is the manifest as read plus those segments (hard
//! links when the target is on the same file system, copies otherwise). A segment can vanish
//! under the copy only when a merge committed a newer manifest without it, so the copy is
//! complete when the manifest read after it still names every segment copied; otherwise it
//! starts over from the newer manifest. The keyword index is not copied (tantivy's files change
//! with every commit): the copy rebuilds it from its passages when it is opened here, so what
//! comes out is a finished index that opens at once, with checksums verified.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use super::{check_manifest, Inner, Manifest, MANIFEST};
use crate::index::segment::dir_of;
use crate::index::segment::files::{replace_atomically, sync_dir};
use crate::index::StoreError;

/// Attempts before giving up when merges keep replacing segments under the copy.
const ATTEMPTS: usize = 20;

/// What a backup holds.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BackupInfo {
    /// The backup's folder.
    pub path: PathBuf,
    /// The generation copied: every write acknowledged before the backup began, and perhaps
    /// some that were acknowledged while it ran.
    pub generation: u64,
    /// Documents in it.
    pub documents: usize,
    /// Passages in it.
    pub passages: usize,
}

/// Copies the index in `src` to `out`, a folder that must not exist yet: written aside under
/// a temporary name and renamed into place only when complete.
pub fn backup(src: &Path, out: &Path) -> Result<BackupInfo, StoreError> {
    if out.exists() {
        return Err(StoreError::io(
            out,
            std::io::Error::new(ErrorKind::AlreadyExists, "the backup folder already exists"),
        ));
    }
    let name = out
        .file_name()
        .ok_or_else(|| StoreError::corrupt(out, "a backup needs a folder name"))?;
    let parent = out.parent().filter(|p| !p.as_os_str().is_empty());
    let parent = parent.unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| StoreError::io(parent, e))?;
    let partial = parent.join(format!(
        ".{}.partial-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = copy_consistent(src, &partial).and_then(|manifest| {
        // Opening verifies every checksum and rebuilds the keyword index at this generation.
        let opened = Inner::open(&partial, &manifest.model)?;
        let state = opened.state();
        let info = (manifest.generation, state.docs.len(), state.passages);
        drop((state, opened));
        sync_dir(&partial)?;
        std::fs::rename(&partial, out).map_err(|e| StoreError::io(out, e))?;
        sync_dir(parent)?;
        Ok(BackupInfo {
            path: out.to_path_buf(),
            generation: info.0,
            documents: info.1,
            passages: info.2,
        })
    });
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&partial);
    }
    result
}

/// The manifest of `src` and the segments it names, copied into `to`; starts over when a
/// segment vanished mid-copy.
fn copy_consistent(src: &Path, to: &Path) -> Result<Manifest, StoreError> {
    for _ in 0..ATTEMPTS {
        if to.exists() {
            std::fs::remove_dir_all(to).map_err(|e| StoreError::io(to, e))?;
        }
        std::fs::create_dir_all(to).map_err(|e| StoreError::io(to, e))?;
        let path = src.join(MANIFEST);
        let bytes = std::fs::read(&path).map_err(|e| StoreError::io(&path, e))?;
        let mut manifest: Manifest = serde_json::from_slice(&bytes)
            .map_err(|e| StoreError::corrupt(&path, format!("corrupt manifest.json: {e}")))?;
        if manifest.format_version != super::FORMAT_VERSION {
            return Err(StoreError::corrupt(
                &path,
                "back up an index of an older format after opening it once with this build",
            ));
        }
        check_manifest(src, &mut manifest)?;
        match manifest
            .segments
            .iter()
            .try_for_each(|r| link_or_copy_dir(&dir_of(src, r.id), &dir_of(to, r.id)))
        {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => continue,
            Err(e) => return Err(StoreError::io(to, e)),
        }
        // A merge deletes a segment only after a manifest that no longer names it: when the
        // current manifest still names every segment copied, none went away during the copy.
        let now: Manifest = std::fs::read(&path)
            .map_err(|e| StoreError::io(&path, e))
            .and_then(|b| {
                serde_json::from_slice(&b).map_err(|e| StoreError::corrupt(&path, e.to_string()))
            })?;
        let kept = manifest
            .segments
            .iter()
            .all(|r| now.segments.iter().any(|n| n.id == r.id));
        if !kept {
            continue;
        }
        // The manifest exactly as read: its checksum and generation are the source's.
        replace_atomically(&to.join(MANIFEST), &bytes)?;
        return Ok(manifest);
    }
    Err(StoreError::Unavailable(format!(
        "merges replaced segments under {ATTEMPTS} backup attempts of {}; retry",
        src.display()
    )))
}

fn link_or_copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let target = to.join(e.file_name());
        if std::fs::hard_link(e.path(), &target).is_err() {
            std::fs::copy(e.path(), &target)?;
            std::fs::File::open(&target)?.sync_all()?;
        }
    }
    std::fs::File::open(to)?.sync_all()
}
