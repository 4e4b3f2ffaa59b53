//! Benchmark: native tools over a source tree through OANIX's mount against tmpfs.
//!
//! One run measures, side by side:
//!
//! 1. host programs (`git status`, `rg`, `find`, `tar`, `cp -r`, `rm -rf`)
//!    over a real source tree — about 10,000 files of crate sources taken
//!    from the local cargo registry, made a git repository with one commit —
//!    on tmpfs, and the same tree through a FUSE mount (`oanix-fuse`, the
//!    default writable policy) of a `MemFs` holding it, of a `WorkspaceFs`
//!    over a tmpfs copy, and of a copy-on-write `WorkspaceOverlay` over a
//!    tmpfs copy (whose writes stay in memory);
//! 2. an edit of a 50 MiB file through the overlay, against the same edit
//!    on tmpfs;
//! 3. the start of a native agent (`NativeRun` of `/bin/true` in an
//!    environment built from a minimal manifest: environment, FUSE mount,
//!    sandbox, unmount) beside `bwrap` and `unshare`.
//!
//! `--quick` (or `OANIX_BENCH_QUICK=1`) takes a smaller tree and fewer
//! repetitions. Every table is printed as Markdown, with the ratio of each
//! subject to tmpfs and whether each row meets its target.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "the benchmark reports on standard output and error"
)]

use std::fmt::Write as _;
use std::fs::{self, File, FileTimes, OpenOptions};
use std::os::unix::fs::{FileExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant, SystemTime};

use oanix_bench::{Stats, Table, format_ns};
use oanix_env::EnvPlan;
use oanix_fuse::{FuseMount, MountOptions};
use oanix_native::NativeRun;
use oanix_prims::{MemFs, MemLimits};
use oanix_sandbox::TOOL_PATHS;
use oanix_services::{WorkspaceFs, WorkspaceOverlay};
use oanix_vfs::{FileService, Timestamp};

/// What goes wrong in the benchmark's setup, as text for the report.
type BenchError = Box<dyn std::error::Error>;
type Res<T> = Result<T, BenchError>;

/// The capacity of every memory file system and overlay layer.
const MEM_CAPACITY: u64 = 8 << 30;
/// The size of the file edited through the overlay.
const BIG: usize = 50 << 20;
/// The size of one edit.
const EDIT: usize = 4096;
/// The modification time given to every file of the tree: long past, so
/// that git never takes a file for racily clean.
const TREE_MTIME_SECS: u64 = 1_600_000_000;
/// The targets: read-heavy rows, create/delete-heavy rows, the edit, the
/// start (p50).
const READ_TARGET: f64 = 1.5;
const WRITE_TARGET: f64 = 3.0;
const EDIT_TARGET: f64 = 2.0;
const START_TARGET_MS: f64 = 10.0;

/// How much to measure.
#[derive(Debug, Clone, Copy)]
struct Config {
    quick: bool,
    /// Files wanted in the tree.
    files: usize,
    /// Repetitions of each tree workload.
    reps: usize,
    /// Edits timed after the first (the copy-up).
    edits: usize,
    /// First edits, each on a fresh overlay.
    first_edits: usize,
    /// Runs of each sandbox start.
    starts: usize,
}

impl Config {
    fn from_args() -> Self {
        let quick = std::env::args().any(|a| a == "--quick")
            || std::env::var_os("OANIX_BENCH_QUICK").is_some_and(|v| v != "0");
        if quick {
            Self {
                quick,
                files: 2_000,
                reps: 2,
                edits: 10,
                first_edits: 2,
                starts: 10,
            }
        } else {
            Self {
                quick,
                files: 10_000,
                reps: 3,
                edits: 50,
                first_edits: 5,
                starts: 50,
            }
        }
    }
}

fn main() -> ExitCode {
    let config = Config::from_args();
    if let Err(e) = FuseMount::check_available() {
        println!("skipped: the native benchmark needs FUSE: {e}");
        return ExitCode::SUCCESS;
    }
    let mut failed = false;
    match Scratch::new() {
        Ok(scratch) => {
            if let Err(e) = tree_tables(scratch.path(), &config) {
                eprintln!("native benchmark: the source tree tables: {e}");
                failed = true;
            }
            if let Err(e) = edit_table(scratch.path(), &config) {
                eprintln!("native benchmark: the edit table: {e}");
                failed = true;
            }
        }
        Err(e) => {
            eprintln!("native benchmark: no scratch tmpfs: {e}");
            failed = true;
        }
    }
    if let Err(e) = start_table(&config) {
        eprintln!("native benchmark: the start table: {e}");
        failed = true;
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

// ---------------------------------------------------------------------------
// The scratch tmpfs

/// A tmpfs of this benchmark's own, mounted on a temporary directory (as
/// root), or else a temporary directory in `/dev/shm`. Unmounted (lazily)
/// and removed when dropped.
#[derive(Debug)]
struct Scratch {
    dir: tempfile::TempDir,
    mounted: bool,
}

impl Scratch {
    fn new() -> Res<Self> {
        let dir = tempfile::Builder::new()
            .prefix("oanix-native-bench-")
            .tempdir()?;
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=12g,mode=0755", "oanix-bench"])
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if mounted {
            return Ok(Self { dir, mounted });
        }
        drop(dir);
        let dir = tempfile::Builder::new()
            .prefix("oanix-native-bench-")
            .tempdir_in("/dev/shm")?;
        Ok(Self {
            dir,
            mounted: false,
        })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if self.mounted {
            let ok = Command::new("umount")
                .arg("-l")
                .arg(self.dir.path())
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                eprintln!(
                    "could not unmount the tmpfs at {}",
                    self.dir.path().display()
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Statistics and tables

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn stats_of(times: &[Duration]) -> Option<Stats> {
    if times.is_empty() {
        return None;
    }
    let mut ns: Vec<f64> = times.iter().map(|t| t.as_nanos() as f64).collect();
    ns.sort_by(f64::total_cmp);
    Some(Stats {
        median_ns: percentile(&ns, 0.5),
        p99_ns: percentile(&ns, 0.99),
        ops: ns.len() as u64,
    })
}

/// One row: a cell per subject (the first tmpfs), and the target of the
/// ratio of each other subject to tmpfs.
#[derive(Debug)]
struct Row {
    name: String,
    cells: Vec<Option<Stats>>,
    target: Option<f64>,
}

/// A table of rows × subjects whose first subject is the peer (tmpfs);
/// each other subject's column is followed by its ratio to the peer.
#[derive(Debug)]
struct Matrix {
    title: String,
    subjects: Vec<String>,
    rows: Vec<Row>,
    notes: Vec<String>,
}

impl Matrix {
    fn new(title: impl Into<String>, subjects: &[&str]) -> Self {
        Self {
            title: title.into(),
            subjects: subjects.iter().map(|s| (*s).to_owned()).collect(),
            rows: Vec::new(),
            notes: Vec::new(),
        }
    }

    fn row(&mut self, name: impl Into<String>, cells: Vec<Option<Stats>>, target: Option<f64>) {
        self.rows.push(Row {
            name: name.into(),
            cells,
            target,
        });
    }

    fn note(&mut self, text: impl Into<String>) {
        self.notes.push(text.into());
    }

    fn to_markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "### {}\n", self.title);
        let peer = self.subjects.first().cloned().unwrap_or_default();
        let mut header = format!("| workload | {peer} |");
        let mut rule = String::from("|---|---:|");
        for s in self.subjects.iter().skip(1) {
            let _ = write!(header, " {s} | ÷ {peer} |");
            rule.push_str("---:|---:|");
        }
        header.push_str(" target | |");
        rule.push_str("---:|---|");
        let _ = writeln!(out, "{header}\n{rule}");
        for row in &self.rows {
            let cell = |c: &Option<Stats>| match c {
                Some(s) => format!("{} ({})", format_ns(s.median_ns), format_ns(s.p99_ns)),
                None => "—".to_owned(),
            };
            let base = row.cells.first().copied().flatten();
            let mut line = format!(
                "| {} | {} |",
                row.name,
                cell(&row.cells.first().copied().flatten())
            );
            let mut missed = Vec::new();
            let mut measured = 0;
            for (i, c) in row.cells.iter().enumerate().skip(1) {
                let ratio = match (base, c) {
                    (Some(b), Some(s)) if b.median_ns > 0.0 => Some(s.median_ns / b.median_ns),
                    _ => None,
                };
                let shown = ratio.map_or_else(|| "—".to_owned(), |r| format!("{r:.2}×"));
                let _ = write!(line, " {} | {shown} |", cell(c));
                if let (Some(r), Some(t)) = (ratio, row.target) {
                    measured += 1;
                    if r > t {
                        let name = self.subjects.get(i).map_or("?", String::as_str);
                        missed.push(format!("{name} {r:.2}×"));
                    }
                }
            }
            let (target, verdict) = match row.target {
                None => ("—".to_owned(), String::new()),
                Some(t) if measured == 0 => (format!("≤ {t}×"), "not measured".to_owned()),
                Some(t) if missed.is_empty() => (format!("≤ {t}×"), "met".to_owned()),
                Some(t) => (format!("≤ {t}×"), format!("missed ({})", missed.join(", "))),
            };
            let _ = writeln!(line, " {target} | {verdict} |");
            out.push_str(&line);
        }
        if !self.notes.is_empty() {
            out.push('\n');
            for n in &self.notes {
                let _ = writeln!(out, "{n}");
            }
        }
        out
    }

    fn print(&self) {
        println!("{}", self.to_markdown());
    }
}

// ---------------------------------------------------------------------------
// Host programs

/// Whether `program` is on the `PATH`.
fn have(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|dir| {
            fs::metadata(dir.join(program))
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    })
}

/// The variables every git command of the benchmark runs with: a fixed
/// author, no system or user configuration.
const GIT_ENV: &[(&str, &str)] = &[
    ("GIT_AUTHOR_NAME", "OANIX bench"),
    ("GIT_AUTHOR_EMAIL", "bench@oanix.invalid"),
    ("GIT_COMMITTER_NAME", "OANIX bench"),
    ("GIT_COMMITTER_EMAIL", "bench@oanix.invalid"),
    ("GIT_CONFIG_NOSYSTEM", "1"),
    ("GIT_CONFIG_GLOBAL", "/dev/null"),
    ("LC_ALL", "C"),
];

/// One finished run of a host program.
#[derive(Debug)]
struct Ran {
    took: Duration,
    stdout: Vec<u8>,
}

/// Runs `argv` in `cwd` and times it from the start to the end of its
/// output; a failure (it could not start, or exited unsuccessfully) is an
/// error naming the command and its first line of error output.
fn run_in(cwd: &Path, argv: &[&str]) -> Res<Ran> {
    let (program, args) = argv.split_first().ok_or("an empty command")?;
    let start = Instant::now();
    let out = Command::new(program)
        .args(args)
        .current_dir(cwd)
        .envs(GIT_ENV.iter().copied())
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("`{}` could not start: {e}", argv.join(" ")))?;
    let took = start.elapsed();
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let first = stderr.lines().next().unwrap_or("").trim().to_owned();
        return Err(format!(
            "`{}` in {} failed ({}): {first}",
            argv.join(" "),
            cwd.display(),
            out.status
        )
        .into());
    }
    Ok(Ran {
        took,
        stdout: out.stdout,
    })
}

/// The git command line with the options every git command uses.
fn git(args: &[&'static str]) -> Vec<&'static str> {
    let mut v = vec![
        "git",
        "-c",
        "safe.directory=*",
        "-c",
        "init.defaultBranch=main",
        "-c",
        "commit.gpgsign=false",
        "-c",
        "gc.auto=0",
    ];
    v.extend_from_slice(args);
    v
}

// ---------------------------------------------------------------------------
// The source tree

/// What the tree was made of.
#[derive(Debug)]
struct TreeInfo {
    files: usize,
    bytes: u64,
    crates: usize,
    /// Files in the whole registry, when it held fewer than wanted.
    short_of: Option<usize>,
}

/// The crate directories of the local cargo registry, by name.
fn registry_crates() -> Res<Vec<PathBuf>> {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .ok_or("neither CARGO_HOME nor HOME is set")?;
    let src = home.join("registry/src");
    let mut crates: Vec<(std::ffi::OsString, PathBuf)> = Vec::new();
    let indexes = fs::read_dir(&src).map_err(|e| format!("reading {}: {e}", src.display()))?;
    for index in indexes {
        let index = index?;
        if !index.file_type()?.is_dir() {
            continue;
        }
        for krate in fs::read_dir(index.path())? {
            let krate = krate?;
            if krate.file_type()?.is_dir()
                && !crates.iter().any(|(name, _)| *name == krate.file_name())
            {
                crates.push((krate.file_name(), krate.path()));
            }
        }
    }
    crates.sort();
    Ok(crates.into_iter().map(|(_, p)| p).collect())
}

/// Every entry below `dir` (files, directories, links), `dir` not counted.
fn count_entries(dir: &Path) -> Res<usize> {
    let mut n = 0;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        n += 1;
        if entry.file_type()?.is_dir() {
            n += count_entries(&entry.path())?;
        }
    }
    Ok(n)
}

/// Copies `src` to `dst` (which must not exist): files `0644` with one
/// fixed old modification time, directories `0755`, links as links.
/// Returns (files, bytes).
fn copy_tree(src: &Path, dst: &Path) -> Res<(usize, u64)> {
    let time = SystemTime::UNIX_EPOCH + Duration::from_secs(TREE_MTIME_SECS);
    fs::create_dir(dst)?;
    let (mut files, mut bytes) = (0, 0);
    for entry in fs::read_dir(src)? {
        let entry = entry?;
        let ft = entry.file_type()?;
        let to = dst.join(entry.file_name());
        if ft.is_dir() {
            let (f, b) = copy_tree(&entry.path(), &to)?;
            files += f;
            bytes += b;
        } else if ft.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(entry.path())?, &to)?;
        } else if ft.is_file() {
            bytes += fs::copy(entry.path(), &to)?;
            fs::set_permissions(&to, fs::Permissions::from_mode(0o644))?;
            OpenOptions::new()
                .write(true)
                .open(&to)?
                .set_times(FileTimes::new().set_accessed(time).set_modified(time))?;
            files += 1;
        }
    }
    fs::set_permissions(dst, fs::Permissions::from_mode(0o755))?;
    Ok((files, bytes))
}

/// Makes `root/tree`: crate sources from the registry until `want` files,
/// committed once to a fresh git repository (objects packed).
fn build_tree(root: &Path, want: usize) -> Res<TreeInfo> {
    let tree = root.join("tree");
    fs::create_dir(&tree)?;
    let mut info = TreeInfo {
        files: 0,
        bytes: 0,
        crates: 0,
        short_of: None,
    };
    for krate in registry_crates()? {
        if info.files >= want {
            break;
        }
        let name = krate
            .file_name()
            .ok_or("a crate directory without a name")?;
        let (files, bytes) = copy_tree(&krate, &tree.join(name))?;
        info.files += files;
        info.bytes += bytes;
        info.crates += 1;
    }
    if info.files == 0 {
        return Err("the local cargo registry holds no crate sources".into());
    }
    if info.files < want {
        info.short_of = Some(info.files);
    }
    run_in(&tree, &git(&["init", "-q"]))?;
    run_in(&tree, &git(&["add", "-A"]))?;
    run_in(&tree, &git(&["commit", "-q", "-m", "the tree"]))?;
    run_in(&tree, &git(&["gc", "-q"]))?;
    Ok(info)
}

/// Copies the host directory `host` into `fs` at `at` (which exists):
/// directories, files with their modification times, links.
fn load_memfs(fs: &MemFs, host: &Path, at: &str) -> Res<()> {
    for entry in fs::read_dir(host)? {
        let entry = entry?;
        let name = entry
            .file_name()
            .into_string()
            .map_err(|n| format!("a name that is not UTF-8: {n:?}"))?;
        let path = format!("{at}/{name}");
        let meta = fs::symlink_metadata(entry.path())?;
        if meta.is_dir() {
            fs.mkdir(&path)?;
            load_memfs(fs, &entry.path(), &path)?;
        } else if meta.file_type().is_symlink() {
            let target = fs::read_link(entry.path())?;
            let target = target
                .to_str()
                .ok_or_else(|| format!("a link target that is not UTF-8: {}", target.display()))?;
            fs.symlink(target, &path)?;
        } else if meta.is_file() {
            fs.put(&path, fs::read(entry.path())?)?;
            fs.set_times(
                &path,
                Some(Timestamp::from(meta.accessed()?)),
                Some(Timestamp::from(meta.modified()?)),
            )?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Subjects

/// Where the workloads run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// The tree on tmpfs, natively.
    Tmpfs,
    /// A `MemFs` holding the tree, through FUSE.
    MemFs,
    /// A `WorkspaceFs` over a tmpfs copy, through FUSE.
    Workspace,
    /// A `WorkspaceOverlay` over a tmpfs copy, through FUSE.
    Overlay,
}

const KINDS: [Kind; 4] = [Kind::Tmpfs, Kind::MemFs, Kind::Workspace, Kind::Overlay];

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Self::Tmpfs => "tmpfs",
            Self::MemFs => "MemFs (FUSE)",
            Self::Workspace => "WorkspaceFs (FUSE)",
            Self::Overlay => "overlay (FUSE)",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::Tmpfs => "tmpfs",
            Self::MemFs => "memfs",
            Self::Workspace => "ws",
            Self::Overlay => "overlay",
        }
    }
}

/// A subject: the directory the workloads run in, the mount serving it
/// (unmounted when dropped) and what to remove afterwards.
#[derive(Debug)]
struct Subject {
    kind: Kind,
    /// The directory holding `tree/` and the copies.
    root: PathBuf,
    mount: Option<FuseMount>,
    /// Directories removed on drop, after the unmount.
    remove: Vec<PathBuf>,
}

impl Subject {
    /// A subject of `kind` under `scratch`, named apart by `label`: holding
    /// a copy of `seed` (a directory holding `tree/`), or empty.
    fn new(kind: Kind, scratch: &Path, label: &str, seed: Option<&Path>) -> Res<Self> {
        let backing = scratch.join(format!("{label}-{}-data", kind.label()));
        let mountpoint = scratch.join(format!("{label}-{}-mnt", kind.label()));
        let copy_seed = |to: &Path| -> Res<()> {
            match seed {
                Some(seed) => {
                    run_in(scratch, &["cp", "-a", path_str(seed)?, path_str(to)?])?;
                }
                None => fs::create_dir(to)?,
            }
            Ok(())
        };
        let (mount, remove) = match kind {
            Kind::Tmpfs => {
                copy_seed(&backing)?;
                return Ok(Self {
                    kind,
                    root: backing.clone(),
                    mount: None,
                    remove: vec![backing],
                });
            }
            Kind::MemFs => {
                let memfs = MemFs::with_limits(MemLimits::capacity(MEM_CAPACITY));
                if let Some(seed) = seed {
                    memfs.mkdir("/tree")?;
                    load_memfs(&memfs, &seed.join("tree"), "/tree")?;
                }
                (mount_at(memfs, &mountpoint)?, vec![mountpoint.clone()])
            }
            Kind::Workspace => {
                copy_seed(&backing)?;
                let ws = WorkspaceFs::new(&backing)?;
                (
                    mount_at(ws, &mountpoint)?,
                    vec![mountpoint.clone(), backing],
                )
            }
            Kind::Overlay => {
                copy_seed(&backing)?;
                let ov = WorkspaceOverlay::with_capacity(&backing, MEM_CAPACITY)?;
                (
                    mount_at(ov, &mountpoint)?,
                    vec![mountpoint.clone(), backing],
                )
            }
        };
        Ok(Self {
            kind,
            root: mountpoint,
            mount: Some(mount),
            remove,
        })
    }

    fn tree(&self) -> PathBuf {
        self.root.join("tree")
    }
}

impl Drop for Subject {
    fn drop(&mut self) {
        if let Some(m) = self.mount.take()
            && let Err(e) = m.unmount()
        {
            eprintln!("unmounting {}: {e}", self.kind.name());
        }
        for dir in &self.remove {
            if dir.exists()
                && let Err(e) = fs::remove_dir_all(dir)
            {
                eprintln!("removing {}: {e}", dir.display());
            }
        }
    }
}

/// Mounts `service` on a new directory `at` with the default options.
fn mount_at(service: impl FileService + 'static, at: &Path) -> Res<FuseMount> {
    fs::create_dir(at)?;
    Ok(FuseMount::mount(service, at, MountOptions::new())?)
}

fn path_str(p: &Path) -> Res<&str> {
    p.to_str()
        .ok_or_else(|| format!("a path that is not UTF-8: {}", p.display()).into())
}

// ---------------------------------------------------------------------------
// The tree workloads

/// A read-only workload: its row name, the programs it needs and its
/// command (run in the tree).
struct ReadLoad {
    name: &'static str,
    needs: &'static [&'static str],
    argv: Vec<&'static str>,
    /// Whether the output's lines come in no fixed order.
    unordered: bool,
    /// Whether one untimed run comes first.
    warm_up: bool,
}

fn read_loads() -> Vec<ReadLoad> {
    vec![
        ReadLoad {
            name: "`git status` (after a warm-up run)",
            needs: &["git"],
            argv: git(&["status"]),
            unordered: false,
            warm_up: true,
        },
        ReadLoad {
            name: "`rg -c fn`",
            needs: &["rg"],
            argv: vec!["rg", "-c", "fn"],
            unordered: true,
            warm_up: false,
        },
        ReadLoad {
            name: "`find . | wc -l`",
            needs: &["sh", "find", "wc"],
            argv: vec!["sh", "-c", "find . | wc -l"],
            unordered: false,
            warm_up: false,
        },
        ReadLoad {
            name: "`tar cf - . | wc -c` (read every file)",
            needs: &["sh", "tar", "wc"],
            argv: vec!["sh", "-c", "tar cf - . | wc -c"],
            unordered: false,
            warm_up: false,
        },
    ]
}

/// The modification time and size of git's index in `tree`.
fn index_stamp(tree: &Path) -> Option<(SystemTime, u64)> {
    let meta = fs::metadata(tree.join(".git/index")).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

fn normalised(out: &[u8], unordered: bool) -> Vec<u8> {
    if !unordered {
        return out.to_vec();
    }
    let mut lines: Vec<&[u8]> = out.split(|b| *b == b'\n').collect();
    lines.sort_unstable();
    lines.join(&b'\n')
}

fn missing(needs: &[&str]) -> Option<String> {
    let gone: Vec<&str> = needs.iter().copied().filter(|p| !have(p)).collect();
    (!gone.is_empty()).then(|| gone.join(", "))
}

fn tree_tables(scratch: &Path, config: &Config) -> Res<()> {
    let master = scratch.join("master");
    fs::create_dir(&master)?;
    if !have("git") {
        println!("skipped: git is not installed; the source tree tables need it to build the tree");
        return Ok(());
    }
    let started = Instant::now();
    let info = build_tree(&master, config.files)?;
    let entries = count_entries(&master.join("tree"))?;
    eprintln!(
        "tree: {} files, {} entries, {:.1} MiB, {} crates, built in {:.1} s",
        info.files,
        entries,
        info.bytes as f64 / f64::from(1 << 20),
        info.crates,
        started.elapsed().as_secs_f64()
    );
    // The tarball extracted by the create-storm row, made before any
    // subject touches the tree.
    let tarball = scratch.join("tree.tar");
    let have_tar = have("tar");
    if have_tar {
        run_in(
            &master.join("tree"),
            &["tar", "cf", path_str(&tarball)?, "."],
        )?;
    }

    let mut subjects = Vec::new();
    for kind in KINDS {
        subjects.push(Subject::new(kind, scratch, "main", Some(&master))?);
    }
    let names: Vec<&str> = KINDS.iter().map(|k| k.name()).collect();
    let size = format!(
        "{} files in {} crates, {:.0} MiB",
        info.files,
        info.crates,
        info.bytes as f64 / f64::from(1 << 20)
    );
    let title = match info.short_of {
        Some(n) => format!(
            "native tools over a source tree ({size}: the registry holds only {n} files of crate sources), p50 (p99) of {} runs",
            config.reps
        ),
        None => format!(
            "native tools over a source tree ({size}), p50 (p99) of {} runs",
            config.reps
        ),
    };
    let mut table = Matrix::new(title, &names);

    for load in read_loads() {
        if let Some(gone) = missing(load.needs) {
            println!("skipped: {} ({gone} not installed)", load.name);
            table.note(format!("{}: skipped, {gone} not installed.", load.name));
            continue;
        }
        let mut times: Vec<Vec<Duration>> = vec![Vec::new(); subjects.len()];
        let mut outputs: Vec<Option<Vec<u8>>> = vec![None; subjects.len()];
        let mut failed: Vec<bool> = vec![false; subjects.len()];
        // The warm-up run: git refreshes its index here (each copy has
        // new inode numbers) and writes it.
        if load.warm_up {
            for (i, s) in subjects.iter().enumerate() {
                if let Err(e) = run_in(&s.tree(), &load.argv) {
                    table.note(format!("{} on {}: {e}", load.name, s.kind.name()));
                    failed[i] = true;
                }
            }
        }
        // What git's index looks like before the timed runs: a timed run
        // that rewrites it did the warm-up's work again.
        let index_before: Vec<Option<(SystemTime, u64)>> =
            subjects.iter().map(|s| index_stamp(&s.tree())).collect();
        for _ in 0..config.reps {
            for (i, s) in subjects.iter().enumerate() {
                if failed[i] {
                    continue;
                }
                match run_in(&s.tree(), &load.argv) {
                    Ok(ran) => {
                        times[i].push(ran.took);
                        outputs[i].get_or_insert(normalised(&ran.stdout, load.unordered));
                    }
                    Err(e) => {
                        table.note(format!("{} on {}: {e}", load.name, s.kind.name()));
                        failed[i] = true;
                        times[i].clear();
                    }
                }
            }
        }
        if load.warm_up {
            for (i, s) in subjects.iter().enumerate() {
                if !failed[i] && index_stamp(&s.tree()) != index_before[i] {
                    table.note(format!(
                        "{} on {}: git rewrote its index during the timed runs.",
                        load.name,
                        s.kind.name()
                    ));
                }
            }
        }
        if let Some(Some(peer)) = outputs.first() {
            for (i, out) in outputs.iter().enumerate().skip(1) {
                if let Some(out) = out
                    && out != peer
                {
                    table.note(format!(
                        "{} on {}: its output differs from tmpfs's ({} bytes against {}).",
                        load.name,
                        KINDS[i].name(),
                        out.len(),
                        peer.len()
                    ));
                }
            }
        }
        table.row(
            load.name,
            times.iter().map(|t| stats_of(t)).collect(),
            Some(READ_TARGET),
        );
        eprintln!("done: {}", load.name);
    }

    // The create storm: the tarball extracted into a fresh, empty subject.
    let extract = "`tar xf` of the tree into an empty directory";
    if !have_tar {
        println!("skipped: {extract} (tar not installed)");
        table.note(format!("{extract}: skipped, tar not installed."));
    } else {
        let tar = path_str(&tarball)?.to_owned();
        let mut times: Vec<Vec<Duration>> = vec![Vec::new(); KINDS.len()];
        let mut failed = vec![false; KINDS.len()];
        for rep in 0..config.reps {
            for (i, kind) in KINDS.iter().enumerate() {
                if failed[i] {
                    continue;
                }
                let fresh = Subject::new(*kind, scratch, &format!("x{rep}"), None)?;
                match run_in(&fresh.root, &["tar", "xf", &tar]) {
                    Ok(ran) => {
                        times[i].push(ran.took);
                        if rep == 0 {
                            let got = count_entries(&fresh.root)?;
                            if got != entries {
                                table.note(format!(
                                    "{extract} on {}: {got} entries extracted, {entries} in the tree.",
                                    kind.name()
                                ));
                            }
                        }
                    }
                    Err(e) => {
                        table.note(format!("{extract} on {}: {e}", kind.name()));
                        failed[i] = true;
                        times[i].clear();
                    }
                }
            }
        }
        table.row(
            extract,
            times.iter().map(|t| stats_of(t)).collect(),
            Some(WRITE_TARGET),
        );
        eprintln!("done: {extract}");
    }

    // Copying the tree on the same subject, then removing the copy.
    let copy = "`cp -r` of the tree on the same file system";
    let remove = "`rm -rf` of that copy";
    if let Some(gone) = missing(&["cp", "rm"]) {
        println!("skipped: {copy}, {remove} ({gone} not installed)");
        table.note(format!("{copy}, {remove}: skipped, {gone} not installed."));
    } else {
        let mut cp_times: Vec<Vec<Duration>> = vec![Vec::new(); subjects.len()];
        let mut rm_times: Vec<Vec<Duration>> = vec![Vec::new(); subjects.len()];
        let mut failed = vec![false; subjects.len()];
        for rep in 0..config.reps {
            let name = format!("copy-{rep}");
            for (i, s) in subjects.iter().enumerate() {
                if failed[i] {
                    continue;
                }
                let result = run_in(&s.root, &["cp", "-r", "tree", &name]).and_then(|cp| {
                    if rep == 0 {
                        let got = count_entries(&s.root.join(&name))?;
                        let want = count_entries(&s.tree())?;
                        if got != want {
                            table.note(format!(
                                "{copy} on {}: {got} entries copied, {want} in the tree.",
                                s.kind.name()
                            ));
                        }
                    }
                    let rm = run_in(&s.root, &["rm", "-rf", &name])?;
                    Ok((cp, rm))
                });
                match result {
                    Ok((cp, rm)) => {
                        cp_times[i].push(cp.took);
                        rm_times[i].push(rm.took);
                    }
                    Err(e) => {
                        table.note(format!("{copy} on {}: {e}", s.kind.name()));
                        failed[i] = true;
                        cp_times[i].clear();
                        rm_times[i].clear();
                    }
                }
            }
        }
        table.row(
            copy,
            cp_times.iter().map(|t| stats_of(t)).collect(),
            Some(WRITE_TARGET),
        );
        table.row(
            remove,
            rm_times.iter().map(|t| stats_of(t)).collect(),
            Some(WRITE_TARGET),
        );
        eprintln!("done: {copy}, {remove}");
    }
    drop(subjects);

    table.note(format!(
        "The tree: crate sources from the local cargo registry ({} crates, {} files, {} entries \
         with the repository), a git repository with one commit (objects packed). Each subject \
         has its own copy; FUSE subjects are mounted with `MountOptions::new()` (everything \
         `Writable`: every lookup and `stat` asks the service, data is not kept across opens). \
         The overlay's writes (git's index, the copies, the extracted tree) stay in memory.",
        info.crates, info.files, entries
    ));
    table.note(format!(
        "Targets: read-heavy rows ≤ {READ_TARGET}× tmpfs, create/delete-heavy rows ≤ \
         {WRITE_TARGET}×. `tar xf` runs in a fresh, empty subject each time (a new MemFs, a new \
         tmpfs directory under WorkspaceFs or the overlay); `cp -r` and `rm -rf` are timed in \
         pairs on the subject holding the tree."
    ));
    if config.quick {
        table.note("Quick run: a smaller tree and fewer repetitions.");
    }
    table.print();
    Ok(())
}

// ---------------------------------------------------------------------------
// The 50 MiB edit

/// Opens `path`, writes 4 KiB in its middle, closes it, then reads those
/// bytes back (open, read, close) and checks them.
fn edit_once(path: &Path, round: u64) -> Res<Duration> {
    let offset = (BIG / 2) as u64;
    let data = [(round % 251) as u8 ^ 0x5a; EDIT];
    let start = Instant::now();
    {
        let f = OpenOptions::new().read(true).write(true).open(path)?;
        f.write_all_at(&data, offset)?;
    }
    let mut back = [0u8; EDIT];
    {
        let f = File::open(path)?;
        f.read_exact_at(&mut back, offset)?;
    }
    let took = start.elapsed();
    if back != data {
        return Err(format!("{}: the edit did not read back", path.display()).into());
    }
    Ok(took)
}

fn edit_table(scratch: &Path, config: &Config) -> Res<()> {
    let big: Vec<u8> = (0..BIG).map(|i| (i % 251) as u8).collect();
    let tmpfs_dir = scratch.join("edit-tmpfs");
    let base_dir = scratch.join("edit-base");
    fs::create_dir(&tmpfs_dir)?;
    fs::create_dir(&base_dir)?;
    fs::write(tmpfs_dir.join("big.bin"), &big)?;
    fs::write(base_dir.join("big.bin"), &big)?;
    drop(big);
    let on_tmpfs = tmpfs_dir.join("big.bin");

    let mount_overlay = |n: usize| -> Res<(FuseMount, PathBuf)> {
        let at = scratch.join(format!("edit-mnt-{n}"));
        let ov = WorkspaceOverlay::with_capacity(&base_dir, MEM_CAPACITY)?;
        Ok((mount_at(ov, &at)?, at))
    };

    // The first edit of each fresh overlay copies the file up.
    let mut first = [Vec::new(), Vec::new()];
    for rep in 0..config.first_edits {
        first[0].push(edit_once(&on_tmpfs, rep as u64)?);
        let (mount, at) = mount_overlay(rep)?;
        let took = edit_once(&at.join("big.bin"), rep as u64);
        let unmounted = mount.unmount();
        fs::remove_dir(&at)?;
        first[1].push(took?);
        unmounted?;
    }
    // Then edits of the copied-up file.
    let mut steady = [Vec::new(), Vec::new()];
    {
        let (mount, at) = mount_overlay(config.first_edits)?;
        let on_overlay = at.join("big.bin");
        let result = (|| -> Res<()> {
            edit_once(&on_overlay, 0)?;
            edit_once(&on_tmpfs, 0)?;
            for round in 1..=config.edits as u64 {
                steady[0].push(edit_once(&on_tmpfs, round)?);
                steady[1].push(edit_once(&on_overlay, round)?);
            }
            Ok(())
        })();
        let unmounted = mount.unmount();
        fs::remove_dir(&at)?;
        result?;
        unmounted?;
    }
    // The base stays as it was: the overlay never commits.
    let base = fs::read(base_dir.join("big.bin"))?;
    let pristine = base.iter().enumerate().all(|(i, b)| *b == (i % 251) as u8);
    fs::remove_dir_all(&tmpfs_dir)?;
    fs::remove_dir_all(&base_dir)?;

    let mut table = Matrix::new(
        "editing a 50 MiB file through the copy-on-write overlay (over a real directory on tmpfs, through FUSE)",
        &["tmpfs", "overlay (FUSE)"],
    );
    table.row(
        format!(
            "first edit: open, write 4 KiB in the middle, close, read back (copies the file up; {} runs)",
            config.first_edits
        ),
        first.iter().map(|t| stats_of(t)).collect(),
        Some(EDIT_TARGET),
    );
    table.row(
        format!("the same edit once copied up ({} runs)", config.edits),
        steady.iter().map(|t| stats_of(t)).collect(),
        Some(EDIT_TARGET),
    );
    table.note(format!(
        "Target: ≤ {EDIT_TARGET}× tmpfs. The first edit of a file through the overlay copies its \
         50 MiB into memory; later edits touch the copy only. Each first edit is on a fresh \
         overlay mount."
    ));
    if !pristine {
        table.note("The overlay's base file changed: the overlay wrote through.");
    }
    table.print();
    Ok(())
}

// ---------------------------------------------------------------------------
// Sandbox start

/// Times each of `n` calls of `op` after `n / 10` warm-up calls.
fn time_each(n: usize, mut op: impl FnMut() -> Res<()>) -> Res<Stats> {
    for _ in 0..n / 10 {
        op()?;
    }
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let start = Instant::now();
        op()?;
        times.push(start.elapsed());
    }
    stats_of(&times).ok_or_else(|| "no runs".into())
}

/// bwrap's arguments for the view `oanix-sandbox`'s start benchmark uses:
/// each tool path bound read-only (or re-created as the link it is), its
/// own `/proc` and `/dev`, every namespace.
fn bwrap_args() -> Res<Vec<String>> {
    let mut args: Vec<String> = ["--unshare-all", "--die-with-parent", "--new-session"]
        .map(str::to_owned)
        .to_vec();
    for path in TOOL_PATHS {
        let Ok(meta) = fs::symlink_metadata(path) else {
            continue;
        };
        if meta.file_type().is_symlink() {
            let target = fs::read_link(path)?;
            args.extend([
                "--symlink".into(),
                target.display().to_string(),
                (*path).to_owned(),
            ]);
        } else {
            args.extend(["--ro-bind".into(), (*path).to_owned(), (*path).to_owned()]);
        }
    }
    args.extend(["--proc", "/proc", "--dev", "/dev", "/bin/true"].map(str::to_owned));
    Ok(args)
}

fn run_host(program: &str, args: &[String]) -> Res<()> {
    let status = Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{program} failed: {status}").into())
    }
}

fn start_table(config: &Config) -> Res<()> {
    let base = tempfile::tempdir()?;
    let manifest = "[agent]\ncommand = [\"/bin/true\"]\n";
    let ours = time_each(config.starts, || {
        let plan = EnvPlan::from_manifest(manifest, "bench.toml", base.path())?;
        let env = plan.builder()?.build()?;
        let outcome = NativeRun::new(&env).run()?;
        if outcome.exit.is_success() {
            Ok(())
        } else {
            Err(format!("/bin/true ended with {:?}", outcome.exit).into())
        }
    })?;
    let mut table = Table::new(
        &format!(
            "native agent start: `/bin/true` from a manifest, to the end, p50 (p99) of {} runs",
            config.starts
        ),
        &["oanix NativeRun", "bwrap", "unshare -Urmpf"],
    );
    let bwrap = if have("bwrap") {
        let args = bwrap_args()?;
        match time_each(config.starts, || run_host("bwrap", &args)) {
            Ok(s) => Some(s),
            Err(e) => {
                table.note(format!("bwrap could not run: {e}"));
                None
            }
        }
    } else {
        println!("skipped: bwrap is not installed");
        table.note("bwrap is not installed: its column is empty.");
        None
    };
    let unshare = if have("unshare") && Path::new("/bin/true").exists() {
        let args: Vec<String> = ["-Urmpf", "--mount-proc", "/bin/true"]
            .map(str::to_owned)
            .to_vec();
        match time_each(config.starts, || run_host("unshare", &args)) {
            Ok(s) => Some(s),
            Err(e) => {
                table.note(format!("unshare could not run: {e}"));
                None
            }
        }
    } else {
        println!("skipped: unshare is not installed");
        table.note("unshare is not installed: its column is empty.");
        None
    };
    table.row(
        "environment, FUSE mount, sandbox, `/bin/true`, unmount",
        vec![Some(ours), bwrap, unshare],
    );
    let p50_ms = ours.median_ns / 1e6;
    table.note(format!(
        "Target: p50 ≤ {START_TARGET_MS} ms for oanix; measured {} ({}).",
        format_ns(ours.median_ns),
        if p50_ms <= START_TARGET_MS {
            "met"
        } else {
            "missed"
        }
    ));
    table.note(
        "oanix: what `oanix run -- /bin/true` does — the environment built from a manifest of \
         `[agent] command = [\"/bin/true\"]`, its namespace mounted through FUSE, the sandbox \
         (every namespace, the tool paths bound read-only, its own /proc and /dev, seccomp, \
         rlimits), the run, the unmount. bwrap: the same binds, every namespace, /proc and \
         /dev, on the host's root. unshare: namespaces and /proc only.",
    );
    table.print();
    Ok(())
}
