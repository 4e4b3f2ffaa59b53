//! [`Store`]: a directory of snapshots.

use std::collections::{BTreeSet, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use oanix_prims::{FrozenCow, FrozenEntry, FrozenTree, FrozenTreeBuilder};
use oanix_vfs::{Metadata, Timestamp};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::content::{MountState, SnapshotContent, StoredMount};
use crate::error::{Result, StoreError};
use crate::manifest::{
    self, BlobRef, EntryRecord, FORMAT_VERSION, ManifestBody, MountRecord, StateRecord, hex,
    sha256_hex,
};

const PACK_MAGIC: &[u8; 8] = b"OANIXPK\0";
const PACK_HEADER: u64 = 12;
const SUFFIX: &str = ".snap";

/// A directory of snapshots (see the [crate docs](crate) for its layout).
///
/// Every method that changes the store holds an exclusive lock on its
/// `.lock` file while it does, so that processes sharing a store do not
/// collect what another is writing; loads take no lock.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

/// What a [`Store::save`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SaveReport {
    /// The manifest written.
    pub path: PathBuf,
    /// Distinct blobs the snapshot refers to.
    pub blobs: u64,
    /// Of them, those found in the store already (not written again).
    pub shared: u64,
    /// Bytes of new blobs written.
    pub bytes_written: u64,
}

/// A snapshot as [`Store::list`] describes it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SnapshotInfo {
    /// Its name.
    pub name: String,
    /// When it was taken.
    pub created: Timestamp,
    /// What it was taken of.
    pub source: String,
    /// Its writer's note.
    pub note: Value,
    /// Its mounts: path and kind of state.
    pub mounts: Vec<(String, &'static str)>,
    /// Files in its trees.
    pub files: u64,
    /// Bytes its blobs hold (each distinct blob once).
    pub bytes: u64,
}

/// What a [`Store::gc`] (or a prune) removed and kept.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct GcReport {
    /// Packs no snapshot refers to any more, removed.
    pub packs_removed: u64,
    /// Their bytes.
    pub bytes_removed: u64,
    /// Left-over files of interrupted saves, removed.
    pub temporaries_removed: u64,
    /// Manifests that could not be read: while there are any, no pack is
    /// removed (one of them might need it). Remove them to collect.
    pub unreadable: Vec<String>,
}

/// What a [`Store::prune`] removed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct PruneReport {
    /// The snapshots removed, oldest first.
    pub removed: Vec<String>,
    /// The collection that followed.
    pub gc: GcReport,
}

/// Checks that `name` can be a snapshot's name: 1 to 100 of ASCII letters,
/// digits, `.`, `_` and `-`, not starting with a dot.
fn check_name(name: &str) -> Result<()> {
    let bad = |reason| {
        Err(StoreError::BadName {
            name: name.to_owned(),
            reason,
        })
    };
    if name.is_empty() || name.len() > 100 {
        return bad("a name is 1 to 100 characters long");
    }
    if name.starts_with('.') {
        return bad("a name does not start with a dot");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return bad("a name holds only ASCII letters, digits, '.', '_' and '-'");
    }
    Ok(())
}

/// Makes what was written in `dir` (a rename, a new file) durable.
fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StoreError::io(dir, e))
}

impl Store {
    /// The store in `dir`, created (with its `packs` and `.tmp`
    /// directories) if it is not there.
    ///
    /// # Errors
    /// [`StoreError::Io`] if the directories cannot be created.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref().to_owned();
        for d in [dir.clone(), dir.join("packs"), dir.join(".tmp")] {
            fs::create_dir_all(&d).map_err(|e| StoreError::io(&d, e))?;
        }
        Ok(Self { dir })
    }

    /// The store and the name of the snapshot whose manifest is `file`
    /// (`DIR/NAME.snap`): how a snapshot is named by one path.
    ///
    /// # Errors
    /// [`StoreError::BadName`] if `file` does not end in `NAME.snap`;
    /// [`StoreError::Io`] as [`open`](Self::open).
    pub fn locate(file: impl AsRef<Path>) -> Result<(Self, String)> {
        let file = file.as_ref();
        let shown = file.display().to_string();
        let name = file
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(SUFFIX))
            .ok_or(StoreError::BadName {
                name: shown,
                reason: "a snapshot file is named NAME.snap",
            })?;
        check_name(name)?;
        let dir = match file.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        };
        Ok((Self::open(dir)?, name.to_owned()))
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The manifest file of snapshot `name`.
    pub fn path_of(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}{SUFFIX}"))
    }

    fn pack_path(&self, id: &str) -> PathBuf {
        self.dir.join("packs").join(format!("{id}.pack"))
    }

    /// Takes the store's lock, held until the guard goes.
    fn lock(&self) -> Result<File> {
        let path = self.dir.join(".lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| StoreError::io(&path, e))?;
        rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)
            .map_err(|e| StoreError::io(&path, e.into()))?;
        Ok(file)
    }

    /// The names of the snapshots, sorted.
    fn names(&self) -> Result<Vec<String>> {
        let rd = fs::read_dir(&self.dir).map_err(|e| StoreError::io(&self.dir, e))?;
        let mut names = Vec::new();
        for entry in rd {
            let entry = entry.map_err(|e| StoreError::io(&self.dir, e))?;
            if let Some(name) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.strip_suffix(SUFFIX))
                && check_name(name).is_ok()
            {
                names.push(name.to_owned());
            }
        }
        names.sort();
        Ok(names)
    }

    fn read_manifest(&self, name: &str) -> Result<ManifestBody> {
        check_name(name)?;
        let path = self.path_of(name);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StoreError::NotFound {
                    store: self.dir.clone(),
                    name: name.to_owned(),
                });
            }
            Err(e) => return Err(StoreError::io(&path, e)),
        };
        let body = manifest::decode(&path, &bytes)?;
        check_body(&path, &body)?;
        Ok(body)
    }

    /// Saves `content` as snapshot `name`, replacing a snapshot of that
    /// name (atomically: a reader sees the old one or the new one).
    ///
    /// Bytes found in the store already (by SHA-256) are referred to, not
    /// written again; the others go to one new pack. The pack is written,
    /// synced and renamed into place before the manifest is, and the
    /// manifest the same way: a save stopped at any point leaves every
    /// earlier snapshot as it was (and at worst a pack no snapshot refers
    /// to, which [`gc`](Self::gc) removes).
    ///
    /// # Errors
    /// [`StoreError::BadName`]; [`StoreError::Io`] if a file cannot be
    /// written; [`StoreError::Unstorable`] if a path of a mount is not
    /// UTF-8.
    pub fn save(&self, name: &str, content: &SnapshotContent) -> Result<SaveReport> {
        check_name(name)?;
        let _lock = self.lock()?;
        let mut blobs = Blobs::new(self, self.known_blobs()?);
        let mut mounts = Vec::with_capacity(content.mounts.len());
        for m in &content.mounts {
            mounts.push(MountRecord {
                path: m.path.clone(),
                flags: m.flags,
                state: state_record(&m.path, &m.state, &mut blobs)?,
            });
        }
        let (packs, refs, report) = blobs.finish()?;
        let body = ManifestBody {
            name: name.to_owned(),
            created: content.created,
            source: content.source.clone(),
            note: content.note.clone(),
            packs,
            blobs: refs,
            mounts,
        };
        let path = self.path_of(name);
        let tmp = self
            .dir
            .join(".tmp")
            .join(format!("{name}.snap.{}", std::process::id()));
        write_synced(&tmp, &manifest::encode(&body))?;
        fs::rename(&tmp, &path).map_err(|e| StoreError::io(&path, e))?;
        sync_dir(&self.dir)?;
        Ok(SaveReport { path, ..report })
    }

    /// Every blob of every readable snapshot whose pack is there, by
    /// SHA-256: what a save may refer to instead of writing again.
    fn known_blobs(&self) -> Result<HashMap<String, (String, u64, u64)>> {
        let mut known = HashMap::new();
        let mut sizes: HashMap<String, Option<u64>> = HashMap::new();
        for name in self.names()? {
            let Ok(body) = self.read_manifest(&name) else {
                continue;
            };
            for b in &body.blobs {
                let Some(pack) = body.packs.get(b.pack as usize) else {
                    continue;
                };
                let size = *sizes
                    .entry(pack.clone())
                    .or_insert_with(|| fs::metadata(self.pack_path(pack)).ok().map(|m| m.len()));
                if size.is_some_and(|s| b.offset.saturating_add(b.len) <= s) {
                    known.insert(b.sha256.clone(), (pack.clone(), b.offset, b.len));
                }
            }
        }
        Ok(known)
    }

    /// Opens snapshot `name`: its manifest is read and verified, none of
    /// its bytes are.
    ///
    /// # Errors
    /// [`StoreError::NotFound`], or what is wrong with the manifest.
    pub fn open_snapshot(&self, name: &str) -> Result<StoredSnapshot> {
        let body = self.read_manifest(name)?;
        Ok(StoredSnapshot {
            store: self.clone(),
            body,
        })
    }

    /// Loads snapshot `name`, every byte verified.
    ///
    /// # Errors
    /// What [`open_snapshot`](Self::open_snapshot) and
    /// [`StoredSnapshot::materialize`] return.
    pub fn load(&self, name: &str) -> Result<SnapshotContent> {
        self.open_snapshot(name)?.materialize()
    }

    /// The snapshots of the store, sorted by name; a manifest that cannot
    /// be read is an error naming it.
    ///
    /// # Errors
    /// [`StoreError::Io`], or what is wrong with a manifest.
    pub fn list(&self) -> Result<Vec<SnapshotInfo>> {
        self.names()?
            .iter()
            .map(|n| self.open_snapshot(n).map(|s| s.info()))
            .collect()
    }

    /// Removes snapshot `name`, then collects what no snapshot needs.
    ///
    /// # Errors
    /// [`StoreError::NotFound`]; [`StoreError::Io`].
    pub fn remove(&self, name: &str) -> Result<GcReport> {
        check_name(name)?;
        {
            let _lock = self.lock()?;
            let path = self.path_of(name);
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(StoreError::NotFound {
                        store: self.dir.clone(),
                        name: name.to_owned(),
                    });
                }
                Err(e) => return Err(StoreError::io(&path, e)),
            }
            sync_dir(&self.dir)?;
        }
        self.gc()
    }

    /// Keeps the `keep` newest snapshots (by the time they were taken) and
    /// removes the others, then collects. Unreadable manifests are neither
    /// counted nor removed (the collection reports them).
    ///
    /// # Errors
    /// [`StoreError::Io`].
    pub fn prune(&self, keep: usize) -> Result<PruneReport> {
        let mut removed = Vec::new();
        {
            let _lock = self.lock()?;
            let mut dated: Vec<(Timestamp, String)> = self
                .names()?
                .into_iter()
                .filter_map(|n| self.read_manifest(&n).ok().map(|b| (b.created, n)))
                .collect();
            dated.sort();
            let excess = dated.len().saturating_sub(keep);
            for (_, name) in dated.into_iter().take(excess) {
                let path = self.path_of(&name);
                fs::remove_file(&path).map_err(|e| StoreError::io(&path, e))?;
                removed.push(name);
            }
            sync_dir(&self.dir)?;
        }
        let gc = self.gc()?;
        Ok(PruneReport { removed, gc })
    }

    /// Removes the packs no snapshot refers to and the left-overs of
    /// interrupted saves. While a manifest cannot be read, no pack is
    /// removed.
    ///
    /// # Errors
    /// [`StoreError::Io`].
    pub fn gc(&self) -> Result<GcReport> {
        let _lock = self.lock()?;
        let mut report = GcReport::default();
        let tmp = self.dir.join(".tmp");
        for entry in fs::read_dir(&tmp).map_err(|e| StoreError::io(&tmp, e))? {
            let entry = entry.map_err(|e| StoreError::io(&tmp, e))?;
            fs::remove_file(entry.path()).map_err(|e| StoreError::io(entry.path(), e))?;
            report.temporaries_removed += 1;
        }
        let mut used = BTreeSet::new();
        for name in self.names()? {
            match self.read_manifest(&name) {
                Ok(body) => used.extend(body.packs),
                Err(_) => report.unreadable.push(name),
            }
        }
        if !report.unreadable.is_empty() {
            return Ok(report);
        }
        let packs = self.dir.join("packs");
        for entry in fs::read_dir(&packs).map_err(|e| StoreError::io(&packs, e))? {
            let entry = entry.map_err(|e| StoreError::io(&packs, e))?;
            let name = entry.file_name();
            let id = name.to_str().and_then(|n| n.strip_suffix(".pack"));
            if id.is_some_and(|id| !used.contains(id)) {
                let len = entry.metadata().map(|m| m.len()).unwrap_or(0);
                fs::remove_file(entry.path()).map_err(|e| StoreError::io(entry.path(), e))?;
                report.packs_removed += 1;
                report.bytes_removed += len;
            }
        }
        sync_dir(&packs)?;
        Ok(report)
    }
}

/// Writes `bytes` to a new file `path` and syncs it.
fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = File::create(path).map_err(|e| StoreError::io(path, e))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| StoreError::io(path, e))
}

/// Checks what a verified manifest says against itself: every blob's pack
/// and every entry's blob exist.
fn check_body(path: &Path, body: &ManifestBody) -> Result<()> {
    let bad = |message: String| {
        Err(StoreError::Malformed {
            path: path.to_owned(),
            message,
        })
    };
    for (i, b) in body.blobs.iter().enumerate() {
        if b.pack as usize >= body.packs.len() {
            return bad(format!(
                "blob {i} names pack {}, of {}",
                b.pack,
                body.packs.len()
            ));
        }
        if b.offset < PACK_HEADER || b.sha256.len() != 64 {
            return bad(format!("blob {i} is malformed"));
        }
    }
    let n = body.blobs.len();
    let check = |what: &str, i: u32| {
        if i as usize >= n {
            bad(format!("{what} names blob {i}, of {n}"))
        } else {
            Ok(())
        }
    };
    for m in &body.mounts {
        let at = |what: &str| format!("mount {}, {what}", m.path);
        match &m.state {
            StateRecord::Task { result, .. } => check(&at("result"), *result)?,
            StateRecord::Logs {
                stdout,
                stderr,
                events,
                ..
            } => {
                for (f, i) in [("stdout", stdout), ("stderr", stderr), ("events", events)] {
                    check(&at(f), *i)?;
                }
            }
            StateRecord::Memory { tree, .. } | StateRecord::Overlay { upper: tree, .. } => {
                for e in tree {
                    if let Some(b) = e.b {
                        check(&at(&format!("file {}", e.p)), b)?;
                    }
                }
            }
            StateRecord::Directory { .. } => {}
        }
    }
    Ok(())
}

/// The blobs of a save being written.
struct Blobs<'a> {
    store: &'a Store,
    known: HashMap<String, (String, u64, u64)>,
    packs: Vec<String>,
    pack_index: HashMap<String, u32>,
    refs: Vec<BlobRef>,
    by_sha: HashMap<String, u32>,
    /// The new pack, created at the first new blob.
    new: Option<NewPack>,
    shared: u64,
}

struct NewPack {
    index: u32,
    tmp: PathBuf,
    out: BufWriter<File>,
    hasher: Sha256,
    offset: u64,
}

impl<'a> Blobs<'a> {
    fn new(store: &'a Store, known: HashMap<String, (String, u64, u64)>) -> Self {
        Self {
            store,
            known,
            packs: Vec::new(),
            pack_index: HashMap::new(),
            refs: Vec::new(),
            by_sha: HashMap::new(),
            new: None,
            shared: 0,
        }
    }

    fn pack(&mut self, id: &str) -> u32 {
        if let Some(&i) = self.pack_index.get(id) {
            return i;
        }
        let i = self.packs.len() as u32;
        self.packs.push(id.to_owned());
        self.pack_index.insert(id.to_owned(), i);
        i
    }

    /// The index of the blob holding `bytes`.
    fn add(&mut self, bytes: &[u8]) -> Result<u32> {
        let sha = sha256_hex(bytes);
        if let Some(&i) = self.by_sha.get(&sha) {
            return Ok(i);
        }
        let r = if let Some((pack, offset, len)) = self.known.get(&sha).cloned() {
            self.shared += 1;
            BlobRef {
                sha256: sha.clone(),
                pack: self.pack(&pack),
                offset,
                len,
            }
        } else {
            let new = self.new_pack()?;
            let offset = new.offset;
            new.out
                .write_all(bytes)
                .map_err(|e| StoreError::io(&new.tmp, e))?;
            // The pack is named by the hashes of its blobs (each byte is
            // hashed once, for its blob).
            new.hasher.update(sha.as_bytes());
            new.offset += bytes.len() as u64;
            BlobRef {
                sha256: sha.clone(),
                pack: new.index,
                offset,
                len: bytes.len() as u64,
            }
        };
        let i = self.refs.len() as u32;
        self.refs.push(r);
        self.by_sha.insert(sha, i);
        Ok(i)
    }

    fn new_pack(&mut self) -> Result<&mut NewPack> {
        if let Some(new) = self.new.take() {
            return Ok(self.new.insert(new));
        }
        let index = self.packs.len() as u32;
        // Named when it is finished, by the hashes of its blobs.
        self.packs.push(String::new());
        let tmp = self.store.dir.join(".tmp").join(format!(
            "pack.{}.{}",
            std::process::id(),
            Timestamp::now().as_nanos()
        ));
        let file = File::create(&tmp).map_err(|e| StoreError::io(&tmp, e))?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        let mut header = PACK_MAGIC.to_vec();
        header.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.write_all(&header)
            .map_err(|e| StoreError::io(&tmp, e))?;
        Ok(self.new.insert(NewPack {
            index,
            tmp,
            out,
            hasher: Sha256::new(),
            offset: PACK_HEADER,
        }))
    }

    /// Syncs and names the new pack: the packs, the blobs, and a report.
    fn finish(mut self) -> Result<(Vec<String>, Vec<BlobRef>, SaveReport)> {
        let mut bytes_written = 0;
        if let Some(new) = self.new.take() {
            let NewPack {
                index,
                tmp,
                out,
                hasher,
                offset,
            } = new;
            let file = out
                .into_inner()
                .map_err(|e| StoreError::io(&tmp, e.into_error()))?;
            file.sync_all().map_err(|e| StoreError::io(&tmp, e))?;
            drop(file);
            let id = hex(&hasher.finalize());
            let dest = self.store.pack_path(&id);
            fs::rename(&tmp, &dest).map_err(|e| StoreError::io(&dest, e))?;
            sync_dir(&self.store.dir.join("packs"))?;
            self.packs[index as usize] = id;
            bytes_written = offset - PACK_HEADER;
        }
        let report = SaveReport {
            path: PathBuf::new(),
            blobs: self.refs.len() as u64,
            shared: self.shared,
            bytes_written,
        };
        Ok((self.packs, self.refs, report))
    }
}

/// The manifest's record of `state`, its bytes added to `blobs`.
fn state_record(path: &str, state: &MountState, blobs: &mut Blobs<'_>) -> Result<StateRecord> {
    Ok(match state {
        MountState::Task(task) => {
            let mut snapshot = task.clone();
            let result = blobs.add(&std::mem::take(&mut snapshot.result))?;
            StateRecord::Task { snapshot, result }
        }
        MountState::Logs(logs) => {
            let mut snapshot = logs.clone();
            let stdout = blobs.add(&std::mem::take(&mut snapshot.stdout.data))?;
            let stderr = blobs.add(&std::mem::take(&mut snapshot.stderr.data))?;
            let events = blobs.add(&std::mem::take(&mut snapshot.events.data))?;
            StateRecord::Logs {
                snapshot,
                stdout,
                stderr,
                events,
            }
        }
        MountState::Memory { tree, capacity } => StateRecord::Memory {
            capacity: *capacity,
            tree: tree_records(tree, blobs)?,
        },
        MountState::Overlay {
            host,
            frozen,
            capacity,
        } => {
            if host.to_str().is_none() {
                return Err(StoreError::Unstorable {
                    path: path.to_owned(),
                    reason: format!("the directory {} is not named in UTF-8", host.display()),
                });
            }
            StateRecord::Overlay {
                host: host.clone(),
                capacity: *capacity,
                upper: tree_records(frozen.upper(), blobs)?,
                whiteouts: frozen.whiteouts().map(str::to_owned).collect(),
                origins: frozen.origins(),
            }
        }
        MountState::Directory { host, writable } => {
            if host.to_str().is_none() {
                return Err(StoreError::Unstorable {
                    path: path.to_owned(),
                    reason: format!("the directory {} is not named in UTF-8", host.display()),
                });
            }
            StateRecord::Directory {
                host: host.clone(),
                writable: *writable,
            }
        }
    })
}

fn tree_records(tree: &FrozenTree, blobs: &mut Blobs<'_>) -> Result<Vec<EntryRecord>> {
    let t = |t: Option<Timestamp>| t.map_or(0, Timestamp::as_nanos);
    tree.items()
        .into_iter()
        .map(|item| {
            let m = &item.metadata;
            let mut r = EntryRecord {
                p: item.path,
                k: 'd',
                id: m.id,
                t: [t(m.created), t(m.modified), t(m.accessed)],
                b: None,
                target: None,
                same: None,
            };
            match (item.entry, item.same_as) {
                (FrozenEntry::File(_), Some(first)) => {
                    r.k = 'h';
                    r.same = Some(first);
                }
                (FrozenEntry::File(bytes), None) => {
                    r.k = 'f';
                    r.b = Some(blobs.add(bytes)?);
                }
                (FrozenEntry::Symlink(target), _) => {
                    r.k = 'l';
                    r.target = Some(target.to_owned());
                }
                (FrozenEntry::Dir, _) => {}
            }
            Ok(r)
        })
        .collect()
}

/// A snapshot of a store, opened: its manifest is read and verified, its
/// bytes are read when asked for (each verified by its SHA-256).
#[derive(Debug, Clone)]
pub struct StoredSnapshot {
    store: Store,
    body: ManifestBody,
}

/// Reads the blobs of one snapshot, each pack at most once.
struct PackReader<'a> {
    snap: &'a StoredSnapshot,
    packs: HashMap<u32, Arc<Vec<u8>>>,
    blobs: HashMap<u32, Arc<Vec<u8>>>,
}

impl PackReader<'_> {
    fn blob(&mut self, index: u32, what: &dyn Fn() -> String) -> Result<Arc<Vec<u8>>> {
        if let Some(b) = self.blobs.get(&index) {
            return Ok(Arc::clone(b));
        }
        let snap = self.snap;
        let r = snap.blob_ref(index)?;
        let pack = match self.packs.get(&r.pack) {
            Some(p) => Arc::clone(p),
            None => {
                let id = &snap.body.packs[r.pack as usize];
                let path = snap.store.pack_path(id);
                let bytes = fs::read(&path)
                    .map_err(|e| snap.blob_err(what(), format!("pack {id}: {e}")))?;
                if bytes.len() < PACK_HEADER as usize || &bytes[..8] != PACK_MAGIC {
                    return Err(snap.blob_err(what(), format!("pack {id} is not a pack")));
                }
                let p = Arc::new(bytes);
                self.packs.insert(r.pack, Arc::clone(&p));
                p
            }
        };
        let end = r.offset.saturating_add(r.len);
        let Some(bytes) = usize::try_from(r.offset)
            .ok()
            .zip(usize::try_from(end).ok())
            .and_then(|(s, e)| pack.get(s..e))
        else {
            return Err(snap.blob_err(
                what(),
                format!(
                    "pack {} holds {} bytes, the blob is at {}..{end}: the pack was cut short",
                    snap.body.packs[r.pack as usize],
                    pack.len(),
                    r.offset
                ),
            ));
        };
        snap.verify_blob(r, bytes, what)?;
        let b = Arc::new(bytes.to_vec());
        self.blobs.insert(index, Arc::clone(&b));
        Ok(b)
    }
}

impl StoredSnapshot {
    /// Its name.
    pub fn name(&self) -> &str {
        &self.body.name
    }

    /// What [`Store::list`] says of it.
    pub fn info(&self) -> SnapshotInfo {
        let mut files = 0;
        let mounts = self
            .body
            .mounts
            .iter()
            .map(|m| {
                let kind = match &m.state {
                    StateRecord::Task { .. } => "task",
                    StateRecord::Logs { .. } => "logs",
                    StateRecord::Memory { tree, .. } => {
                        files += tree.iter().filter(|e| e.k == 'f' || e.k == 'h').count() as u64;
                        "memory"
                    }
                    StateRecord::Overlay { upper, .. } => {
                        files += upper.iter().filter(|e| e.k == 'f' || e.k == 'h').count() as u64;
                        "overlay"
                    }
                    StateRecord::Directory { .. } => "directory",
                };
                (m.path.clone(), kind)
            })
            .collect();
        SnapshotInfo {
            name: self.body.name.clone(),
            created: self.body.created,
            source: self.body.source.clone(),
            note: self.body.note.clone(),
            mounts,
            files,
            bytes: self.body.blobs.iter().map(|b| b.len).sum(),
        }
    }

    fn blob_ref(&self, index: u32) -> Result<&BlobRef> {
        // `check_body` checked every index the manifest holds.
        self.body
            .blobs
            .get(index as usize)
            .ok_or_else(|| StoreError::Malformed {
                path: self.store.path_of(&self.body.name),
                message: format!("no blob {index}"),
            })
    }

    fn blob_err(&self, what: String, problem: String) -> StoreError {
        StoreError::Blob {
            snapshot: self.body.name.clone(),
            what,
            problem,
        }
    }

    fn verify_blob(&self, r: &BlobRef, bytes: &[u8], what: &dyn Fn() -> String) -> Result<()> {
        if sha256_hex(bytes) != r.sha256 {
            return Err(self.blob_err(
                what(),
                format!(
                    "checksum mismatch in pack {} at offset {} ({} bytes): the pack was changed",
                    self.body.packs[r.pack as usize], r.offset, r.len
                ),
            ));
        }
        Ok(())
    }

    /// The bytes of `file` in the tree of the mount at `mount` (a memory
    /// mount or an overlay's layer), reading only that file's blob.
    /// `Ok(None)` if the snapshot has no such file.
    ///
    /// # Errors
    /// [`StoreError::Blob`] if the bytes are missing or damaged.
    pub fn read_file(&self, mount: &str, file: &str) -> Result<Option<Vec<u8>>> {
        let Some(m) = self.body.mounts.iter().find(|m| m.path == mount) else {
            return Ok(None);
        };
        let tree = match &m.state {
            StateRecord::Memory { tree, .. } | StateRecord::Overlay { upper: tree, .. } => tree,
            _ => return Ok(None),
        };
        let Some(mut entry) = tree.iter().find(|e| e.p == file) else {
            return Ok(None);
        };
        if let Some(first) = entry.same {
            match tree.get(first) {
                Some(e) => entry = e,
                None => return Ok(None),
            }
        }
        let Some(index) = entry.b else {
            return Ok(None);
        };
        let what = || format!("mount {mount}, file {file}");
        let r = self.blob_ref(index)?;
        let id = &self.body.packs[r.pack as usize];
        let path = self.store.pack_path(id);
        let mut f =
            File::open(&path).map_err(|e| self.blob_err(what(), format!("pack {id}: {e}")))?;
        let mut bytes = vec![0; usize::try_from(r.len).unwrap_or(usize::MAX)];
        f.seek(SeekFrom::Start(r.offset))
            .and_then(|_| f.read_exact(&mut bytes))
            .map_err(|e| {
                self.blob_err(
                    what(),
                    format!(
                        "pack {id} at offset {}: {e} (the pack was cut short)",
                        r.offset
                    ),
                )
            })?;
        self.verify_blob(r, &bytes, &what)?;
        Ok(Some(bytes))
    }

    /// Reads every byte the snapshot refers to, verified, into a
    /// [`SnapshotContent`]: all of it or an error, never part.
    ///
    /// # Errors
    /// [`StoreError::Blob`] naming the first file whose bytes are missing
    /// or damaged; [`StoreError::Malformed`] for a tree that breaks a rule.
    pub fn materialize(&self) -> Result<SnapshotContent> {
        let mut reader = PackReader {
            snap: self,
            packs: HashMap::new(),
            blobs: HashMap::new(),
        };
        let mut mounts = Vec::with_capacity(self.body.mounts.len());
        for m in &self.body.mounts {
            let at = |what: &str| format!("mount {}, {what}", m.path);
            let state = match &m.state {
                StateRecord::Task { snapshot, result } => {
                    let mut task = snapshot.clone();
                    task.result = reader.blob(*result, &|| at("task result"))?.to_vec();
                    MountState::Task(task)
                }
                StateRecord::Logs {
                    snapshot,
                    stdout,
                    stderr,
                    events,
                } => {
                    let mut logs = snapshot.clone();
                    logs.stdout.data = reader.blob(*stdout, &|| at("stdout.log"))?.to_vec();
                    logs.stderr.data = reader.blob(*stderr, &|| at("stderr.log"))?.to_vec();
                    logs.events.data = reader.blob(*events, &|| at("events.jsonl"))?.to_vec();
                    MountState::Logs(logs)
                }
                StateRecord::Memory { capacity, tree } => MountState::Memory {
                    tree: self.tree(&m.path, tree, &mut reader)?,
                    capacity: *capacity,
                },
                StateRecord::Overlay {
                    host,
                    capacity,
                    upper,
                    whiteouts,
                    origins,
                } => MountState::Overlay {
                    host: host.clone(),
                    frozen: FrozenCow::from_parts(
                        self.tree(&m.path, upper, &mut reader)?,
                        whiteouts.iter().cloned(),
                        origins.clone(),
                    ),
                    capacity: *capacity,
                },
                StateRecord::Directory { host, writable } => MountState::Directory {
                    host: host.clone(),
                    writable: *writable,
                },
            };
            mounts.push(StoredMount::new(m.path.clone(), m.flags, state));
        }
        Ok(SnapshotContent {
            created: self.body.created,
            source: self.body.source.clone(),
            note: self.body.note.clone(),
            mounts,
        })
    }

    fn tree(
        &self,
        mount: &str,
        records: &[EntryRecord],
        reader: &mut PackReader<'_>,
    ) -> Result<FrozenTree> {
        let mut b = FrozenTreeBuilder::new();
        let malformed = |e: oanix_prims::DecodeError| StoreError::Malformed {
            path: self.store.path_of(&self.body.name),
            message: format!("mount {mount}: {e}"),
        };
        for r in records {
            let meta = Metadata::file(r.id, 0).with_times(
                Timestamp(r.t[0]),
                Timestamp(r.t[1]),
                Timestamp(r.t[2]),
            );
            match (r.k, r.b, &r.target, r.same) {
                ('d', None, None, None) => b.dir(&r.p, &meta).map_err(malformed)?,
                ('f', Some(blob), None, None) => {
                    let data = reader.blob(blob, &|| format!("mount {mount}, file {}", r.p))?;
                    b.shared_file(&r.p, &meta, data).map_err(malformed)?;
                }
                ('l', None, Some(target), None) => {
                    b.symlink(&r.p, &meta, target.clone()).map_err(malformed)?;
                }
                ('h', None, None, Some(first)) => b.link(&r.p, first).map_err(malformed)?,
                _ => {
                    return Err(StoreError::Malformed {
                        path: self.store.path_of(&self.body.name),
                        message: format!("mount {mount}: entry {:?} is malformed", r.p),
                    });
                }
            }
        }
        Ok(b.finish())
    }

    /// Reads and verifies every byte the snapshot refers to, keeping none.
    ///
    /// # Errors
    /// As [`materialize`](Self::materialize).
    pub fn verify(&self) -> Result<()> {
        self.materialize().map(drop)
    }
}
