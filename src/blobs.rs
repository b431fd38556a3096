//! Content-addressed, write-once storage of originals.
//!
//! A blob is named by the blake3 hash of its bytes ([`BlobId`]) and lives at
//! `blobs/<2 hex>/<64 hex>`: 256 shard directories, created once, so that
//! storing a blob rarely creates a directory (each new directory costs two
//! more fsyncs; see docs/benchmarks.md). Bytes are streamed (never held in memory
//! whole) into a temporary file under `blobs/tmp/` while they are hashed.
//!
//! Write protocol ([`BlobStore::make_durable`]), per blob: temp file written →
//! temp file fsynced → renamed to its final name → directory fsynced. Only
//! after that may a catalog entry name the blob. For a batch, each step runs
//! for all blobs before the next step starts, which lets the file system
//! combine the syncs without weakening the order.
//!
//! Invariants:
//! - Only this module writes below `blobs/`.
//! - A file's name always equals the hash of its content; reads re-hash and
//!   refuse a mismatch ([`BlobStore::copy_verified`]).
//! - Same bytes are stored once.
//! - Blobs are removed only by [`BlobStore::remove`], which `gc` calls for
//!   blobs no catalog entry names.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use crate::failpoint;
use crate::model::BlobId;

const BUF_SIZE: usize = 1 << 20;

/// The blob store below `<store>/blobs`.
#[derive(Debug)]
pub struct BlobStore {
    root: PathBuf,
    tmp: PathBuf,
}

/// What can go wrong with blobs.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("cannot read {}: {source}", path.display())]
    ReadSource { path: PathBuf, source: io::Error },
    #[error("blob store I/O on {}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("blob {id} is missing from the store: restore {} from a backup", path.display())]
    Missing { id: BlobId, path: PathBuf },
    #[error(
        "blob {id} is corrupted (its content hashes to {actual}): restore {} from a backup",
        path.display()
    )]
    Corrupt { id: BlobId, actual: BlobId, path: PathBuf },
}

/// Bytes written to a temporary file and hashed, not yet durable or visible
/// under their final name. Dropping it removes the temporary file.
#[derive(Debug)]
pub struct Staged {
    id: BlobId,
    size: u64,
    head: Vec<u8>,
    temp: Option<PathBuf>,
    /// The temporary file, still open, so that it is fsynced without being
    /// opened again.
    file: Option<File>,
}

impl Staged {
    pub fn id(&self) -> BlobId {
        self.id
    }
    pub fn size(&self) -> u64 {
        self.size
    }
    /// The first bytes, for sniffing the media type.
    pub fn head(&self) -> &[u8] {
        &self.head
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if let Some(temp) = self.temp.take() {
            let _ = fs::remove_file(temp);
        }
    }
}

/// A blob file found on disk by [`BlobStore::list`].
#[derive(Debug)]
pub struct BlobFile {
    /// `None` if the file name is not a blob id (a stray file).
    pub id: Option<BlobId>,
    pub path: PathBuf,
    pub modified: Option<SystemTime>,
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> BlobError + '_ {
    move |source| BlobError::Io { path: path.to_path_buf(), source }
}

/// fsyncs a directory, so that renames and creations in it are durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Asks the kernel to start writing `file`'s dirty pages now, without
/// waiting. The fsync in [`BlobStore::make_durable`] then mostly finds the
/// data already written while later files of the batch were being staged.
/// Only a hint: durability still comes from that fsync.
fn start_writeback(file: &File) {
    // SAFETY: sync_file_range on a descriptor we own; offset 0 and length 0
    // mean the whole file; the call does not touch our memory.
    unsafe {
        libc::sync_file_range(file.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE);
    }
}

/// Threads that issue fsyncs at the same time in [`sync_concurrently`].
const SYNC_THREADS: usize = 8;

/// Runs `sync` (an fsync) on every item and returns once all are durable.
/// fsync mostly waits on the device, so the calls are issued from several
/// threads at once and the device can overlap them; the order towards the
/// caller is unchanged: nothing is reported synced before all are.
fn sync_concurrently<T: Sync>(items: &[T], sync: impl Fn(&T) -> Result<(), BlobError> + Sync) -> Result<(), BlobError> {
    if items.len() <= 1 {
        return items.iter().try_for_each(&sync);
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let threads = SYNC_THREADS.min(items.len());
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| -> Result<(), BlobError> {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(item) = items.get(i) else { return Ok(()) };
                        sync(item)?;
                    }
                })
            })
            .collect();
        workers.into_iter().try_for_each(|w| w.join().expect("fsync worker panicked"))
    })
}

impl BlobStore {
    /// Creates `blobs/` and `blobs/tmp/` if needed.
    pub fn create(root: &Path) -> Result<Self, BlobError> {
        fs::create_dir_all(root.join("tmp")).map_err(io_err(root))?;
        Ok(Self::open(root))
    }

    pub fn open(root: &Path) -> Self {
        Self { root: root.to_path_buf(), tmp: root.join("tmp") }
    }

    /// Where blob `id` lives.
    pub fn path_of(&self, id: &BlobId) -> PathBuf {
        let hex = id.to_hex();
        self.root.join(&hex[0..2]).join(hex)
    }

    /// Streams `source` into a temporary file while hashing it.
    /// `source_path` names the input in errors.
    ///
    /// Either it fails and nothing is left behind, or it returns a [`Staged`]
    /// blob that is not yet durable.
    pub fn stage(&self, source: &mut dyn Read, source_path: &Path) -> Result<Staged, BlobError> {
        let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let temp = self.tmp.join(format!("{}-{n}.tmp", std::process::id()));
        let mut staged = Staged { id: BlobId::from_bytes([0; 32]), size: 0, head: Vec::new(), temp: None, file: None };
        let mut file = File::create_new(&temp).map_err(io_err(&temp))?;
        staged.temp = Some(temp.clone());
        let mut hasher = blake3::Hasher::new();
        let mut buf = vec![0u8; BUF_SIZE];
        loop {
            let read = match source.read(&mut buf) {
                Ok(0) => break,
                Ok(read) => read,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) => return Err(BlobError::ReadSource { path: source_path.to_path_buf(), source }),
            };
            let chunk = &buf[..read];
            if staged.head.len() < crate::media::SNIFF_LEN {
                let take = (crate::media::SNIFF_LEN - staged.head.len()).min(chunk.len());
                staged.head.extend_from_slice(&chunk[..take]);
            }
            hasher.update(chunk);
            file.write_all(chunk).map_err(io_err(&temp))?;
            staged.size += read as u64;
        }
        staged.id = BlobId::from_hash(hasher.finalize());
        start_writeback(&file);
        staged.file = Some(file);
        failpoint::hit("blob.written");
        Ok(staged)
    }

    /// Makes staged blobs durable under their final names: fsync each temp
    /// file, rename each into place, fsync every directory touched. Blobs
    /// already present are kept, and synced again in case an earlier
    /// process was stopped between their rename and its directory sync.
    ///
    /// Either it fails, and no catalog entry may name these blobs yet, or
    /// every blob is durable and may be named.
    pub fn make_durable(&self, staged: &mut [Staged]) -> Result<(), BlobError> {
        let temps: Vec<(&File, &Path)> =
            staged.iter().filter_map(|b| Some((b.file.as_ref()?, b.temp.as_deref()?))).collect();
        sync_concurrently(&temps, |(file, path)| file.sync_all().map_err(io_err(path)))?;
        failpoint::hit("blob.synced");
        let mut dirs: Vec<PathBuf> = Vec::new();
        for blob in staged.iter_mut() {
            let dest = self.path_of(&blob.id);
            let leaf = dest.parent().expect("blob paths have a directory").to_path_buf();
            match fs::create_dir(&leaf) {
                Ok(()) => dirs.push(self.root.clone()),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(BlobError::Io { path: leaf.clone(), source: e }),
            }
            let existing = fs::metadata(&dest).ok().filter(|m| m.is_file() && m.len() == blob.size);
            if existing.is_some() {
                File::open(&dest).and_then(|f| f.sync_all()).map_err(io_err(&dest))?;
                // The temp copy is dropped with `blob`.
            } else if let Some(temp) = blob.temp.take()
                && let Err(e) = fs::rename(&temp, &dest)
            {
                blob.temp = Some(temp);
                return Err(BlobError::Io { path: dest, source: e });
            }
            dirs.push(leaf);
        }
        failpoint::hit("blob.renamed");
        dirs.sort();
        dirs.dedup();
        sync_concurrently(&dirs, |dir| sync_dir(dir).map_err(io_err(dir)))?;
        failpoint::hit("blob.dir_synced");
        Ok(())
    }

    /// Streams blob `id` into `out`, hashing as it goes; returns the size.
    /// A mismatch is reported after the last byte, so callers that must not
    /// expose unverified bytes write to a temporary place first.
    pub fn copy_verified(&self, id: &BlobId, out: &mut dyn Write) -> Result<u64, BlobError> {
        let path = self.path_of(id);
        let mut file = self.open_existing(id, &path)?;
        let mut hasher = blake3::Hasher::new();
        let mut buf = vec![0u8; BUF_SIZE];
        let mut size = 0u64;
        loop {
            let read = match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(BlobError::Io { path, source: e }),
            };
            hasher.update(&buf[..read]);
            out.write_all(&buf[..read]).map_err(|e| BlobError::Io { path: PathBuf::from("<output>"), source: e })?;
            size += read as u64;
        }
        let actual = BlobId::from_hash(hasher.finalize());
        if actual != *id {
            return Err(BlobError::Corrupt { id: *id, actual, path });
        }
        Ok(size)
    }

    /// Re-hashes blob `id` and checks it against its name.
    pub fn verify(&self, id: &BlobId) -> Result<u64, BlobError> {
        self.copy_verified(id, &mut io::sink())
    }

    /// Every file below `blobs/` except the temp directory.
    pub fn list(&self) -> Result<Vec<BlobFile>, BlobError> {
        let read_dir = |dir: &Path| -> Result<Vec<fs::DirEntry>, BlobError> {
            let mut entries: Vec<_> =
                fs::read_dir(dir).map_err(io_err(dir))?.collect::<Result<_, _>>().map_err(io_err(dir))?;
            entries.sort_by_key(|e| e.file_name());
            Ok(entries)
        };
        let mut out = Vec::new();
        for shard in read_dir(&self.root)? {
            let shard_path = shard.path();
            if shard_path == self.tmp {
                continue;
            }
            if !shard_path.is_dir() {
                out.push(BlobFile { id: None, modified: modified(&shard_path), path: shard_path });
                continue;
            }
            for file in read_dir(&shard_path)? {
                let path = file.path();
                let id = file.file_name().to_str().and_then(BlobId::from_hex).filter(|id| self.path_of(id) == path);
                out.push(BlobFile { id, modified: modified(&path), path });
            }
        }
        Ok(out)
    }

    /// Removes a blob file. Only `gc` calls this, for unreferenced blobs.
    pub fn remove(&self, path: &Path) -> Result<(), BlobError> {
        fs::remove_file(path).map_err(io_err(path))?;
        if let Some(dir) = path.parent() {
            sync_dir(dir).map_err(io_err(dir))?;
        }
        Ok(())
    }

    /// Removes temporary files left by a process that was stopped while
    /// staging. Call only while holding the store lock.
    pub fn clean_temp(&self) -> Result<usize, BlobError> {
        let mut removed = 0;
        let entries = match fs::read_dir(&self.tmp) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::create_dir_all(&self.tmp).map_err(io_err(&self.tmp))?;
                return Ok(0);
            }
            Err(e) => return Err(BlobError::Io { path: self.tmp.clone(), source: e }),
        };
        for entry in entries {
            let path = entry.map_err(io_err(&self.tmp))?.path();
            if path.is_dir() {
                // Work directories (the parts of a batch scan being split).
                fs::remove_dir_all(&path).map_err(io_err(&path))?;
            } else {
                fs::remove_file(&path).map_err(io_err(&path))?;
            }
            removed += 1;
        }
        Ok(removed)
    }

    /// A fresh, empty work directory under `blobs/tmp/`: on the blobs' file
    /// system, removed with the other leftovers when the store is opened.
    pub fn work_dir(&self, name: &str) -> Result<PathBuf, BlobError> {
        let dir = self.tmp.join(format!("{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        Ok(dir)
    }

    fn open_existing(&self, id: &BlobId, path: &Path) -> Result<File, BlobError> {
        match File::open(path) {
            Ok(f) => Ok(f),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Err(BlobError::Missing { id: *id, path: path.to_path_buf() })
            }
            Err(e) => Err(BlobError::Io { path: path.to_path_buf(), source: e }),
        }
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    fs::metadata(path).and_then(|m| m.modified()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, BlobStore) {
        let dir = tempfile::tempdir().unwrap();
        let blobs = BlobStore::create(&dir.path().join("blobs")).unwrap();
        (dir, blobs)
    }

    fn put(blobs: &BlobStore, bytes: &[u8]) -> BlobId {
        let mut staged = [blobs.stage(&mut &bytes[..], Path::new("mem")).unwrap()];
        blobs.make_durable(&mut staged).unwrap();
        staged[0].id()
    }

    #[test]
    fn stores_once_and_reads_back_verified() {
        let (_dir, blobs) = store();
        let a = put(&blobs, b"Bauantrag Flurstueck 12");
        let b = put(&blobs, b"Bauantrag Flurstueck 12");
        assert_eq!(a, b);
        assert_eq!(a, BlobId::from_hash(blake3::hash(b"Bauantrag Flurstueck 12")));
        let files = blobs.list().unwrap();
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].id, Some(a));
        let hex = a.to_hex();
        assert!(files[0].path.ends_with(format!("{}/{hex}", &hex[..2])));
        let mut out = Vec::new();
        blobs.copy_verified(&a, &mut out).unwrap();
        assert_eq!(out, b"Bauantrag Flurstueck 12");
        assert_eq!(fs::read_dir(blobs.tmp.clone()).unwrap().count(), 0, "no temp files left");
    }

    #[test]
    fn flipped_byte_and_missing_blob_are_reported() {
        let (_dir, blobs) = store();
        let id = put(&blobs, b"Ratsbeschluss");
        let path = blobs.path_of(&id);
        let mut bytes = fs::read(&path).unwrap();
        bytes[0] ^= 1;
        fs::write(&path, bytes).unwrap();
        assert!(matches!(blobs.verify(&id), Err(BlobError::Corrupt { .. })));
        fs::remove_file(&path).unwrap();
        assert!(matches!(blobs.verify(&id), Err(BlobError::Missing { .. })));
    }

    #[test]
    fn dropped_stage_leaves_nothing() {
        let (_dir, blobs) = store();
        let staged = blobs.stage(&mut &b"abc"[..], Path::new("mem")).unwrap();
        assert_eq!(fs::read_dir(&blobs.tmp).unwrap().count(), 1);
        drop(staged);
        assert_eq!(fs::read_dir(&blobs.tmp).unwrap().count(), 0);
        assert!(blobs.list().unwrap().is_empty());
    }

    #[test]
    fn truncated_existing_blob_is_replaced_by_a_good_copy() {
        let (_dir, blobs) = store();
        let id = put(&blobs, b"Sitzungsniederschrift");
        fs::write(blobs.path_of(&id), b"Sitz").unwrap();
        put(&blobs, b"Sitzungsniederschrift");
        blobs.verify(&id).unwrap();
    }
}
