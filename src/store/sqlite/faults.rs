//! Storage fault injection, for fault drills and tests: make the writer's
//! connection fail the way a full disk, a failing disk or a read-only mount
//! makes it fail, with SQLite's own error codes, and clear it again
//! ([`Store::inject_fault`](super::Store::inject_fault)).
//!
//! Disk full and I/O errors come from a thin VFS shim around the platform's
//! default VFS, used by the writer connection only. While such a fault is set,
//! every write to the database, its WAL or a temporary file fails with
//! `SQLITE_FULL` (what SQLite's unix VFS returns on `ENOSPC`) or
//! `SQLITE_IOERR_WRITE`, so SQLite takes its real error paths: statements
//! failing, a COMMIT failing halfway through appending to the WAL, the pager
//! resetting itself after the rollback. A flag that only flips between
//! writes would not exercise those. Read-only is `PRAGMA query_only`, which
//! refuses writes with `SQLITE_READONLY` as a read-only database does.
//! Readers and the checkpointer open the database without the shim, so reads
//! carry on whatever is injected.

use std::ffi::{c_int, c_void, CString};
use std::fmt;
use std::ptr;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};

use rusqlite::ffi;

use super::StoreError;

/// A storage fault to simulate on the writer connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// No fault: writes go to disk.
    None,
    /// Every write to a file fails with `SQLITE_FULL` ("database or disk is full").
    DiskFull,
    /// Every write, sync and truncation fails with an I/O error (`SQLITE_IOERR_*`).
    IoError,
    /// The connection refuses to change the database (`SQLITE_READONLY`).
    ReadOnly,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Fault::None => "none",
            Fault::DiskFull => "disk full",
            Fault::IoError => "I/O error",
            Fault::ReadOnly => "read-only",
        })
    }
}

const NO_FAULT: u8 = 0;
const FULL: u8 = 1;
const IO_ERROR: u8 = 2;

/// What the shim's callbacks reach through `pAppData` and each file.
struct Shared {
    real: *mut ffi::sqlite3_vfs,
    fault: AtomicU8,
}

/// A registered shim VFS. Dropping it unregisters it: drop it only after
/// every connection opened with it is closed.
pub(super) struct FaultVfs {
    vfs: *mut ffi::sqlite3_vfs,
    shared: *mut Shared,
    name: CString,
}

// SAFETY: the pointers are owned by this value and only read by SQLite
// (from any thread, which it allows for VFS objects); the fault is atomic.
unsafe impl Send for FaultVfs {}

impl FaultVfs {
    /// Registers a shim of the default VFS under a name of its own, so each
    /// store's faults stay its own (tests run many stores in one process).
    pub(super) fn register() -> Result<FaultVfs, StoreError> {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let name = CString::new(format!(
            "podium-faults-{}",
            NEXT.fetch_add(1, Ordering::Relaxed)
        ))
        .expect("no NUL in the name");
        // SAFETY: a null name asks for the default VFS, which SQLite keeps for
        // the life of the process.
        let real = unsafe { ffi::sqlite3_vfs_find(ptr::null()) };
        if real.is_null() {
            return Err(StoreError::Worker("SQLite has no default VFS".into()));
        }
        let shared = Box::into_raw(Box::new(Shared {
            real,
            fault: AtomicU8::new(NO_FAULT),
        }));
        // SAFETY: `real` is a valid VFS; the copy keeps its other methods,
        // which take the VFS only for `mxPathname` (copied along).
        let mut vfs: ffi::sqlite3_vfs = unsafe { *real };
        vfs.szOsFile = (HEADER + unsafe { (*real).szOsFile } as usize) as c_int;
        vfs.pNext = ptr::null_mut();
        vfs.zName = name.as_ptr();
        vfs.pAppData = shared.cast();
        vfs.xOpen = Some(x_open);
        let vfs = Box::into_raw(Box::new(vfs));
        // SAFETY: `vfs` and the name it points to live until `drop` unregisters it.
        let rc = unsafe { ffi::sqlite3_vfs_register(vfs, 0) };
        if rc != ffi::SQLITE_OK {
            // SAFETY: not registered, so nothing else holds these.
            unsafe {
                drop(Box::from_raw(vfs));
                drop(Box::from_raw(shared));
            }
            return Err(StoreError::Worker(format!(
                "cannot register the storage VFS (SQLite code {rc})"
            )));
        }
        Ok(FaultVfs { vfs, shared, name })
    }

    /// The name to open connections with.
    pub(super) fn name(&self) -> &str {
        self.name.to_str().expect("an ASCII name")
    }

    /// Sets the file-level fault (read-only is the connection's, see `writer`).
    pub(super) fn set(&self, fault: Fault) {
        let code = match fault {
            Fault::DiskFull => FULL,
            Fault::IoError => IO_ERROR,
            Fault::None | Fault::ReadOnly => NO_FAULT,
        };
        // SAFETY: `shared` lives as long as `self`.
        unsafe { (*self.shared).fault.store(code, Ordering::SeqCst) };
    }
}

impl Drop for FaultVfs {
    fn drop(&mut self) {
        // SAFETY: registered in `register`; the owner closed every connection
        // using it first, so no file still points at `shared`.
        unsafe {
            ffi::sqlite3_vfs_unregister(self.vfs);
            drop(Box::from_raw(self.vfs));
            drop(Box::from_raw(self.shared));
        }
    }
}

/// The shim's file: its own header, then the real VFS's file at `HEADER`.
#[repr(C)]
struct FaultFile {
    base: ffi::sqlite3_file,
    shared: *const Shared,
}

/// Rounded up to 16 so the real file keeps the alignment SQLite gave ours.
const HEADER: usize = std::mem::size_of::<FaultFile>().div_ceil(16) * 16;

/// The real VFS's file inside `file`.
unsafe fn inner(file: *mut ffi::sqlite3_file) -> *mut ffi::sqlite3_file {
    file.cast::<u8>().add(HEADER).cast()
}

unsafe fn fault(file: *mut ffi::sqlite3_file) -> u8 {
    (*(*file.cast::<FaultFile>()).shared)
        .fault
        .load(Ordering::SeqCst)
}

unsafe extern "C" fn x_open(
    vfs: *mut ffi::sqlite3_vfs,
    name: ffi::sqlite3_filename,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    let shared = (*vfs).pAppData as *const Shared;
    let real = (*shared).real;
    let Some(open) = (*real).xOpen else {
        return ffi::SQLITE_CANTOPEN;
    };
    let rc = open(real, name, inner(file), flags, out_flags);
    let ours = file.cast::<FaultFile>();
    if rc == ffi::SQLITE_OK {
        (*ours).base.pMethods = &METHODS;
        (*ours).shared = shared;
    } else {
        // SQLite calls xClose on a failed open only when pMethods is set.
        (*ours).base.pMethods = ptr::null();
    }
    rc
}

/// Forwards a method to the real file; `$version` is the first
/// `sqlite3_io_methods` version that has it (older tables end before it).
macro_rules! forward {
    ($name:ident, $method:ident, $version:expr, ($($arg:ident: $ty:ty),*) -> $ret:ty, $missing:expr) => {
        unsafe extern "C" fn $name(file: *mut ffi::sqlite3_file $(, $arg: $ty)*) -> $ret {
            let inner = inner(file);
            let methods = (*inner).pMethods;
            if (*methods).iVersion < $version {
                return $missing;
            }
            match (*methods).$method {
                Some(method) => method(inner $(, $arg)*),
                None => $missing,
            }
        }
    };
}

forward!(x_close, xClose, 1, () -> c_int, ffi::SQLITE_OK);
forward!(x_read, xRead, 1, (buf: *mut c_void, amount: c_int, offset: i64) -> c_int, ffi::SQLITE_IOERR_READ);
forward!(real_write, xWrite, 1, (buf: *const c_void, amount: c_int, offset: i64) -> c_int, ffi::SQLITE_IOERR_WRITE);
forward!(real_truncate, xTruncate, 1, (size: i64) -> c_int, ffi::SQLITE_IOERR_TRUNCATE);
forward!(real_sync, xSync, 1, (flags: c_int) -> c_int, ffi::SQLITE_IOERR_FSYNC);
forward!(x_file_size, xFileSize, 1, (size: *mut i64) -> c_int, ffi::SQLITE_IOERR_FSTAT);
forward!(x_lock, xLock, 1, (level: c_int) -> c_int, ffi::SQLITE_IOERR_LOCK);
forward!(x_unlock, xUnlock, 1, (level: c_int) -> c_int, ffi::SQLITE_IOERR_UNLOCK);
forward!(x_check_reserved_lock, xCheckReservedLock, 1, (out: *mut c_int) -> c_int, ffi::SQLITE_IOERR_CHECKRESERVEDLOCK);
forward!(x_file_control, xFileControl, 1, (op: c_int, arg: *mut c_void) -> c_int, ffi::SQLITE_NOTFOUND);
forward!(x_sector_size, xSectorSize, 1, () -> c_int, 4096);
forward!(x_device_characteristics, xDeviceCharacteristics, 1, () -> c_int, 0);
forward!(x_shm_map, xShmMap, 2, (page: c_int, size: c_int, extend: c_int, out: *mut *mut c_void) -> c_int, ffi::SQLITE_IOERR_SHMMAP);
forward!(x_shm_lock, xShmLock, 2, (offset: c_int, n: c_int, flags: c_int) -> c_int, ffi::SQLITE_IOERR_SHMLOCK);
forward!(x_shm_unmap, xShmUnmap, 2, (delete: c_int) -> c_int, ffi::SQLITE_OK);
forward!(x_fetch, xFetch, 3, (offset: i64, amount: c_int, out: *mut *mut c_void) -> c_int, {
    *out = ptr::null_mut();
    ffi::SQLITE_OK
});
forward!(x_unfetch, xUnfetch, 3, (offset: i64, p: *mut c_void) -> c_int, ffi::SQLITE_OK);

unsafe extern "C" fn x_shm_barrier(file: *mut ffi::sqlite3_file) {
    let inner = inner(file);
    let methods = (*inner).pMethods;
    if (*methods).iVersion >= 2 {
        if let Some(barrier) = (*methods).xShmBarrier {
            barrier(inner);
        }
    }
}

unsafe extern "C" fn x_write(
    file: *mut ffi::sqlite3_file,
    buf: *const c_void,
    amount: c_int,
    offset: i64,
) -> c_int {
    match fault(file) {
        FULL => ffi::SQLITE_FULL,
        IO_ERROR => ffi::SQLITE_IOERR_WRITE,
        _ => real_write(file, buf, amount, offset),
    }
}

unsafe extern "C" fn x_truncate(file: *mut ffi::sqlite3_file, size: i64) -> c_int {
    match fault(file) {
        IO_ERROR => ffi::SQLITE_IOERR_TRUNCATE,
        _ => real_truncate(file, size),
    }
}

unsafe extern "C" fn x_sync(file: *mut ffi::sqlite3_file, flags: c_int) -> c_int {
    match fault(file) {
        IO_ERROR => ffi::SQLITE_IOERR_FSYNC,
        _ => real_sync(file, flags),
    }
}

static METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    iVersion: 3,
    xClose: Some(x_close),
    xRead: Some(x_read),
    xWrite: Some(x_write),
    xTruncate: Some(x_truncate),
    xSync: Some(x_sync),
    xFileSize: Some(x_file_size),
    xLock: Some(x_lock),
    xUnlock: Some(x_unlock),
    xCheckReservedLock: Some(x_check_reserved_lock),
    xFileControl: Some(x_file_control),
    xSectorSize: Some(x_sector_size),
    xDeviceCharacteristics: Some(x_device_characteristics),
    xShmMap: Some(x_shm_map),
    xShmLock: Some(x_shm_lock),
    xShmBarrier: Some(x_shm_barrier),
    xShmUnmap: Some(x_shm_unmap),
    xFetch: Some(x_fetch),
    xUnfetch: Some(x_unfetch),
};
