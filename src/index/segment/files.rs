//! Flat little-endian arrays on disk, memory-mapped when read: vectors (f32) and tables (u32,
//! u64). A segment's files never change once written, so a mapping stays valid for the
//! segment's life, and the operating system keeps in memory only the pages searches touch.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use memmap2::Mmap;

use crate::index::StoreError;

// The arrays are read in place, so the file's byte order must be the machine's.
#[cfg(not(target_endian = "little"))]
compile_error!("semsearch's index files are little-endian");

/// A read-only array of `T` backed by a mapped file (or nothing, for an empty array).
pub struct Mapped<T> {
    map: Option<Arc<Mmap>>,
    len: usize,
    _t: std::marker::PhantomData<T>,
}

/// Element types a file may hold: plain numbers.
///
/// # Safety
/// Every bit pattern of `size_of::<Self>()` bytes must be a valid value, the type must have no
/// padding, and its alignment must divide a page: [`Mapped::as_slice`] views file bytes as
/// `Self` on the strength of this.
pub unsafe trait Plain: Copy + 'static {}
// SAFETY: primitive numbers: every bit pattern valid, no padding, alignment at most 8.
unsafe impl Plain for u8 {}
// SAFETY: as above.
unsafe impl Plain for i8 {}
// SAFETY: as above.
unsafe impl Plain for f32 {}
// SAFETY: as above.
unsafe impl Plain for u32 {}
// SAFETY: as above.
unsafe impl Plain for u64 {}

impl<T: Plain> Mapped<T> {
    /// Maps `path`, which must hold a whole number of `T`s.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let file = std::fs::File::open(path).map_err(|e| StoreError::io(path, e))?;
        let size = file.metadata().map_err(|e| StoreError::io(path, e))?.len() as usize;
        let width = std::mem::size_of::<T>();
        if !size.is_multiple_of(width) {
            return Err(StoreError::corrupt(
                path,
                format!("size {size} is not a multiple of {width}"),
            ));
        }
        if size == 0 {
            return Ok(Mapped {
                map: None,
                len: 0,
                _t: std::marker::PhantomData,
            });
        }
        // SAFETY: segment files are written once, fsynced, and never modified or truncated
        // while an index is open (a segment is deleted only after no snapshot uses it).
        let map = unsafe { Mmap::map(&file) }.map_err(|e| StoreError::io(path, e))?;
        Ok(Mapped {
            map: Some(Arc::new(map)),
            len: size / width,
            _t: std::marker::PhantomData,
        })
    }

    /// The elements.
    pub fn as_slice(&self) -> &[T] {
        match &self.map {
            // SAFETY: the mapping is page-aligned (so aligned for T), holds `len` elements of
            // a type for which every bit pattern is valid, and lives as long as `self`.
            Some(m) => unsafe { std::slice::from_raw_parts(m.as_ptr() as *const T, self.len) },
            None => &[],
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Bytes of a slice of plain numbers, in file order.
fn bytes_of<T: Plain>(v: &[T]) -> &[u8] {
    // SAFETY: T is a plain number type without padding; the byte view covers exactly `v`.
    unsafe { std::slice::from_raw_parts(v.as_ptr() as *const u8, std::mem::size_of_val(v)) }
}

/// Writes `v` to `path` and fsyncs it.
pub fn write_array<T: Plain>(path: &Path, v: &[T]) -> Result<(), StoreError> {
    write_bytes(path, bytes_of(v))
}

/// Writes `bytes` to `path` and fsyncs it.
pub fn write_bytes(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let io = |e| StoreError::io(path, e);
    let mut f = std::fs::File::create(path).map_err(io)?;
    f.write_all(bytes).map_err(io)?;
    f.sync_all().map_err(io)
}

/// Fsyncs a folder, so that the files created in it survive a crash.
pub fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    std::fs::File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(|e| StoreError::io(dir, e))
}

/// Replaces `path` atomically with `bytes`: written aside, fsynced, renamed, folder fsynced.
pub fn replace_atomically(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let tmp = path.with_extension("tmp");
    // A half-written temporary file is removed, not left to hold space on a full disk.
    write_bytes(&tmp, bytes).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })?;
    std::fs::rename(&tmp, path).map_err(|e| StoreError::io(path, e))?;
    sync_dir(path.parent().unwrap_or(Path::new(".")))
}

/// A file's length and CRC-32, as a segment's table lists them: checked at open, so a damaged
/// file is an error naming it before any query reads it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FileSum {
    /// The file's name in its folder.
    pub name: String,
    /// Its length in bytes.
    pub len: u64,
    /// CRC-32 (IEEE) of its bytes.
    pub crc32: u32,
}

/// Reads `dir/name` through and sums it.
pub fn sum_file(dir: &Path, name: &str) -> Result<FileSum, StoreError> {
    use std::io::Read;
    let path = dir.join(name);
    let io = |e| StoreError::io(&path, e);
    let mut file = std::fs::File::open(&path).map_err(io)?;
    let mut hasher = crc32fast::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut len = 0u64;
    loop {
        let n = file.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        len += n as u64;
    }
    Ok(FileSum {
        name: name.to_string(),
        len,
        crc32: hasher.finalize(),
    })
}

/// Checks that the files of `dir` are the ones `sums` lists.
pub fn verify(dir: &Path, sums: &[FileSum]) -> Result<(), StoreError> {
    for want in sums {
        if want.name.contains(['/', '\\']) || want.name.starts_with('.') {
            return Err(StoreError::corrupt(
                dir,
                format!("file name {:?}", want.name),
            ));
        }
        let found = sum_file(dir, &want.name)?;
        if found.len != want.len {
            return Err(StoreError::corrupt(
                dir.join(&want.name),
                format!(
                    "{} bytes, {} written (truncated or extended)",
                    found.len, want.len
                ),
            ));
        }
        if found.crc32 != want.crc32 {
            return Err(StoreError::corrupt(
                dir.join(&want.name),
                format!(
                    "checksum {:08x}, {:08x} written (the file was damaged)",
                    found.crc32, want.crc32
                ),
            ));
        }
    }
    Ok(())
}

/// CRC-32 of a value's JSON form: a table (a manifest, a segment's `segment.json`) carries the
/// checksum of itself serialized without it, so a change that still parses is caught, and
/// one that does not change what is read (spacing) is harmless.
pub fn json_crc<T: serde::Serialize>(value: &T) -> Result<u32, StoreError> {
    Ok(crc32fast::hash(&serde_json::to_vec(value)?))
}
