//! `--web.config.file` as it is now: a changed file (a rotated certificate, a new user) takes
//! effect without a restart, as exporter-toolkit reads it per request and per handshake.
//!
//! Each request asks for the current configuration, which costs one `stat` per file it was read
//! from (a few microseconds). When a stamp moved, the file is read again; a broken new file keeps
//! the previous configuration and is logged once, naming the key.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use crate::web_config::{WebConfig, WebConfigError};

/// What identifies one version of a file: enough to notice an edit, a replacement by rename
/// (certificate rotation tools do that) or a removal.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileStamp(Option<(u64, u64, SystemTime)>);

impl FileStamp {
    fn of(path: &Path) -> FileStamp {
        #[cfg(unix)]
        use std::os::unix::fs::MetadataExt;
        FileStamp(std::fs::metadata(path).ok().map(|m| {
            #[cfg(unix)]
            let identity = m.ino();
            #[cfg(not(unix))]
            let identity = 0;
            (
                identity,
                m.len(),
                m.modified().unwrap_or(SystemTime::UNIX_EPOCH),
            )
        }))
    }
}

struct Loaded {
    config: Arc<WebConfig>,
    /// Stamps of `config.files` when it was read.
    stamps: Vec<FileStamp>,
    /// Stamps of a newer version that failed to load, so it is logged once, not per request.
    rejected: Option<Vec<FileStamp>>,
}

/// Where a configuration comes from.
enum Source {
    File(PathBuf),
    /// Built by the exporter (from upstream's own web flags); `origin` names it in errors.
    Text {
        origin: PathBuf,
        text: String,
    },
}

impl Source {
    fn load(&self) -> Result<WebConfig, WebConfigError> {
        match self {
            Source::File(file) => WebConfig::load(file),
            Source::Text { origin, text } => WebConfig::parse(text, origin),
        }
    }

    fn origin(&self) -> &Path {
        match self {
            Source::File(file) => file,
            Source::Text { origin, .. } => origin,
        }
    }
}

/// The server's web configuration: fixed, or read from a file (or text) and read again when it,
/// or a certificate, key or CA file it names, changes.
pub struct ReloadingWebConfig {
    source: Option<Source>,
    state: Mutex<Loaded>,
}

impl From<WebConfig> for ReloadingWebConfig {
    /// A configuration that never changes (no file, or tests).
    fn from(config: WebConfig) -> Self {
        ReloadingWebConfig {
            source: None,
            state: Mutex::new(Loaded {
                config: Arc::new(config),
                stamps: Vec::new(),
                rejected: None,
            }),
        }
    }
}

impl ReloadingWebConfig {
    /// Reads `file`; an error here is a start-up error.
    pub fn load(file: &Path) -> Result<Self, WebConfigError> {
        Self::from_source(Source::File(file.to_path_buf()))
    }

    /// A configuration in exporter-toolkit's YAML that the exporter wrote itself (from upstream
    /// flags such as redis_exporter's `--tls-server-cert-file`); `origin` names it in errors.
    /// Relative paths resolve against the working directory; the files it names are watched.
    pub fn from_text(origin: &str, text: String) -> Result<Self, WebConfigError> {
        let origin = PathBuf::from(".").join(origin);
        Self::from_source(Source::Text { origin, text })
    }

    fn from_source(source: Source) -> Result<Self, WebConfigError> {
        let config = source.load()?;
        let stamps = stamps(&config.files);
        Ok(ReloadingWebConfig {
            source: Some(source),
            state: Mutex::new(Loaded {
                config: Arc::new(config),
                stamps,
                rejected: None,
            }),
        })
    }

    /// The configuration in force, re-read first if any of its files changed.
    pub fn current(&self) -> Arc<WebConfig> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let Some(source) = &self.source else {
            return Arc::clone(&state.config);
        };
        let file = source.origin();
        let now = stamps(&state.config.files);
        if now == state.stamps || state.rejected.as_ref() == Some(&now) {
            return Arc::clone(&state.config);
        }
        match source
            .load()
            .and_then(|new| keeps_tls_mode(&state.config, new, file))
        {
            Ok(new) => {
                tracing::info!(file = %file.display(), "reloaded the web config");
                // Stamps of the files the new version names, which may differ from the old's.
                state.stamps = stamps(&new.files);
                state.config = Arc::new(new);
                state.rejected = None;
            }
            Err(e) => {
                tracing::error!(err = %e, "the web config changed but cannot be used; keeping the previous one");
                state.rejected = Some(now);
            }
        }
        Arc::clone(&state.config)
    }

    /// Whether the server speaks TLS: fixed at start-up, since the listeners are.
    pub fn tls_enabled(&self) -> bool {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.config.tls.is_some()
    }
}

fn stamps(files: &[PathBuf]) -> Vec<FileStamp> {
    files.iter().map(|f| FileStamp::of(f)).collect()
}

/// Turning TLS on or off needs a restart (exporter-toolkit decides it at start-up too).
fn keeps_tls_mode(
    old: &WebConfig,
    new: WebConfig,
    file: &Path,
) -> Result<WebConfig, WebConfigError> {
    if old.tls.is_some() == new.tls.is_some() {
        return Ok(new);
    }
    Err(WebConfigError::Invalid {
        file: file.to_path_buf(),
        message: "tls_server_config: adding or removing TLS takes a restart".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, text: &str) {
        // A rename, as editors and rotation tools do, so the stamp moves even within one
        // timestamp tick.
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, path).unwrap();
    }

    fn users(c: &WebConfig) -> usize {
        c.basic_auth.as_ref().map_or(0, |a| a.user_count())
    }

    #[test]
    fn a_changed_file_takes_effect_and_a_broken_one_keeps_the_last_good() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("web.yml");
        let hash = bcrypt::hash("pw", 4).unwrap();
        write(&file, "");
        let live = ReloadingWebConfig::load(&file).unwrap();
        assert_eq!(users(&live.current()), 0);

        write(&file, &format!("basic_auth_users:\n  alice: {hash}\n"));
        assert_eq!(users(&live.current()), 1);

        write(&file, "basic_auth_users:\n  alice: not-a-hash\n");
        assert_eq!(
            users(&live.current()),
            1,
            "a broken file keeps the last good one"
        );
        assert!(live.state.lock().unwrap().rejected.is_some());

        write(
            &file,
            &format!("basic_auth_users:\n  alice: {hash}\n  bob: {hash}\n"),
        );
        assert_eq!(users(&live.current()), 2);

        std::fs::remove_file(&file).unwrap();
        assert_eq!(
            users(&live.current()),
            2,
            "a removed file keeps the last good one"
        );
    }

    #[test]
    fn a_config_given_as_text_watches_the_files_it_names() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("server.crt");
        let text = format!(
            "tls_server_config:\n  cert_file: {0}\n  key_file: {0}\n",
            missing.display()
        );
        let err = ReloadingWebConfig::from_text("--tls-server-* flags", text)
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("--tls-server-* flags") && err.contains("cert_file"),
            "{err}"
        );
        let hash = bcrypt::hash("pw", 4).unwrap();
        let live =
            ReloadingWebConfig::from_text("flags", format!("basic_auth_users:\n  a: {hash}\n"))
                .unwrap();
        assert_eq!(users(&live.current()), 1);
    }

    #[test]
    fn a_fixed_config_never_reads_anything() {
        let live = ReloadingWebConfig::from(WebConfig::default());
        assert!(live.current().basic_auth.is_none());
        assert!(!live.tls_enabled());
    }
}
