//! A supervised child process: its environment, its log (stdout and stderr of every start,
//! appended), a fresh HTTP port per start, SIGTERM with a bounded wait, SIGKILL, and what `/proc`
//! says of it. A process never outlives its guard.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::http::http_get;
use crate::pipeline::Kind;
use crate::ports::free_port;

/// The directory cargo builds the running test's or bench's profile into (`target/<profile>`):
/// the running executable's directory, less its `deps/`.
pub fn profile_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf))
        .map(|dir| match dir.parent() {
            Some(profile) if dir.ends_with("deps") => profile.to_path_buf(),
            _ => dir,
        })
        .unwrap_or_else(|| PathBuf::from("."))
}

/// An example of this package, as `cargo test` builds it (`target/<profile>/examples/<name>`);
/// fails when it is missing.
pub fn example_binary(name: &str) -> PathBuf {
    let path = profile_dir().join("examples").join(name);
    assert!(
        path.exists(),
        "{} is missing: cargo test builds examples",
        path.display()
    );
    path
}

/// The command name and the user + system CPU seconds of process `pid`, from
/// `/proc/<pid>/stat` (`None` when it is not there).
pub fn proc_cpu(pid: u32) -> Option<(String, f64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (head, rest) = stat.rsplit_once(')')?;
    let command = head.split_once('(')?.1.to_owned();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime, in clock ticks (100 per second on Linux).
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok());
    Some((
        command,
        (ticks(11).unwrap_or(0.0) + ticks(12).unwrap_or(0.0)) / 100.0,
    ))
}

/// Waits up to `timeout` for `child` to exit.
pub fn wait_timeout(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() >= deadline => return None,
            Ok(None) => std::thread::sleep(Duration::from_millis(25)),
            Err(e) => panic!("wait for child {}: {e}", child.id()),
        }
    }
}

/// A child process killed (SIGKILL) and reaped when the guard goes out of scope.
#[derive(Debug)]
pub struct ChildGuard(pub Option<Child>);

impl ChildGuard {
    /// Its process id.
    pub fn id(&self) -> Option<u32> {
        self.0.as_ref().map(Child::id)
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            if let Ok(None) = child.try_wait() {
                let _ = child.kill();
            }
            let _ = child.wait();
        }
    }
}

/// The last `lines` lines of a file (lossy UTF-8), at most ~64 KiB read.
pub fn tail(path: &Path, lines: usize) -> String {
    let Ok(mut file) = File::open(path) else {
        return format!("(no log at {})", path.display());
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let start = len.saturating_sub(64 * 1024);
    let mut bytes = Vec::new();
    if file.seek(SeekFrom::Start(start)).is_err() || file.read_to_end(&mut bytes).is_err() {
        return format!("(unreadable log at {})", path.display());
    }
    let text = String::from_utf8_lossy(&bytes);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// One service replica: its settings, its log file (stdout and stderr of every start, appended)
/// and, while it runs, its process.
#[derive(Debug)]
pub struct Service {
    /// `stg`, `dds-2`, …
    pub name: String,
    /// Which binary.
    pub kind: Kind,
    env: Vec<(String, String)>,
    /// The log of every start.
    pub log: PathBuf,
    /// `HTTP_PORT` of the current (or last) start.
    pub http_port: u16,
    child: ChildGuard,
    /// How many times it was started.
    pub starts: u32,
}

impl Service {
    /// A replica of `kind` named `name`, not started yet: `env` is its whole environment (plus
    /// `HTTP_PORT`, fresh at every start), `log` receives its stdout and stderr.
    pub fn new(name: String, kind: Kind, env: Vec<(String, String)>, log: PathBuf) -> Self {
        Service {
            name,
            kind,
            env,
            log,
            http_port: 0,
            child: ChildGuard(None),
            starts: 0,
        }
    }

    /// Starts (or restarts) the process on a fresh HTTP port.
    pub fn start(&mut self) {
        assert!(
            self.child.0.is_none(),
            "{} is already running (pid {:?})",
            self.name,
            self.child.id()
        );
        self.starts += 1;
        self.http_port = free_port();
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("open the service log");
        writeln!(
            log,
            "===== e2e: start #{} of {} on HTTP port {} =====",
            self.starts, self.name, self.http_port
        )
        .expect("write the service log");
        let stderr = log.try_clone().expect("clone the log handle");
        let binary = self.kind.binary();
        let mut cmd = Command::new(&binary);
        cmd.env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("HTTP_PORT", self.http_port.to_string())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(stderr);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", binary.display()));
        self.child = ChildGuard(Some(child));
    }

    /// Sets (or with `None` removes) a variable of its environment, for its next start.
    pub fn set_env(&mut self, name: &str, value: Option<&str>) {
        self.env.retain(|(n, _)| n != name);
        if let Some(value) = value {
            self.env.push((name.to_owned(), value.to_owned()));
        }
    }

    /// Its pid while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// `Some(status)` if it was started and has exited on its own (the status is kept).
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child
            .0
            .as_mut()
            .and_then(|c| c.try_wait().expect("try_wait"))
    }

    /// `Some(status)` once it has exited on its own; the process is reaped and forgotten, so
    /// it can be started again.
    pub fn reap(&mut self) -> Option<ExitStatus> {
        let status = self.exited()?;
        self.child.0 = None;
        Some(status)
    }

    /// SIGTERM (sent with `kill -TERM`), then waits up to `grace` for the exit: the exit status
    /// and how long it took, or `None` if it did not exit in time (it is killed then).
    pub fn terminate(&mut self, grace: Duration) -> Option<(ExitStatus, Duration)> {
        let sent = Instant::now();
        self.send_term();
        self.wait_exit(sent, grace)
    }

    /// Sends SIGTERM (with `kill -TERM`) if it runs.
    pub fn send_term(&self) {
        let Some(pid) = self.pid() else { return };
        let status = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM {pid}: {status}");
    }

    /// Waits until `sent + grace` for the exit and reaps the process: its status and the time
    /// since `sent`, or `None` if it did not exit in time (it is killed then) or was not running.
    pub fn wait_exit(&mut self, sent: Instant, grace: Duration) -> Option<(ExitStatus, Duration)> {
        let mut child = self.child.0.take()?;
        let left = (sent + grace).saturating_duration_since(Instant::now());
        let exited = wait_timeout(&mut child, left).map(|status| (status, sent.elapsed()));
        if exited.is_none() {
            let _ = child.kill();
            let _ = child.wait();
        }
        exited
    }

    /// `(VmRSS, VmHWM)` in KiB from `/proc/<pid>/status` (zeros when not running).
    pub fn memory_kib(&self) -> (u64, u64) {
        let Some(pid) = self.pid() else {
            return (0, 0);
        };
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }

    /// User + system CPU seconds from `/proc/<pid>/stat` (0 when not running).
    pub fn cpu_seconds(&self) -> f64 {
        self.pid()
            .and_then(proc_cpu)
            .map_or(0.0, |(_, seconds)| seconds)
    }

    /// SIGKILL (a crash) and reap.
    pub fn crash(&mut self) {
        if let Some(mut child) = self.child.0.take() {
            child.kill().expect("kill -KILL");
            child.wait().expect("reap");
        }
    }

    /// `GET path` on its HTTP port.
    pub fn get(&self, path: &str) -> Result<(u16, String), String> {
        http_get(self.http_port, path)
    }

    /// Its `/metrics` text.
    pub fn metrics(&self) -> Result<String, String> {
        match self.get("/metrics")? {
            (200, body) => Ok(body),
            (status, body) => Err(format!("/metrics answered {status}: {body}")),
        }
    }
}
