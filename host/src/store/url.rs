//! The store setting: `memory:`, `redb:PATH` (the default), `redis://HOST:PORT[/DB]`.

use std::fmt;
use std::path::{Path, PathBuf};

/// Which backend to open, parsed once from a URL-like setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreUrl {
    /// In-process maps; everything is lost on exit (tests, demos).
    Memory,
    /// An embedded redb file.
    Redb(PathBuf),
    /// A Redis server shared by several processes; the full URL as given.
    Redis(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreUrlError {
    #[error("the store setting is empty; use memory:, redb:PATH or redis://HOST:PORT")]
    Empty,
    #[error("unknown store {0:?}; use memory:, redb:PATH or redis://HOST:PORT")]
    UnknownScheme(String),
    #[error("the memory store takes no path (got {0:?}); use plain memory:")]
    MemoryWithPath(String),
    #[error("a redis store needs a host: redis://HOST:PORT")]
    RedisWithoutHost,
}

impl StoreUrl {
    /// File name of the default store inside the data directory.
    pub const DEFAULT_FILE: &str = "usage.redb";

    /// The default store: `<data_dir>/usage.redb`.
    pub fn default_in(data_dir: &Path) -> Self {
        Self::Redb(data_dir.join(Self::DEFAULT_FILE))
    }

    /// Parses a setting; `redb:` without a path means the default file in `data_dir`.
    pub fn parse(setting: &str, data_dir: &Path) -> Result<Self, StoreUrlError> {
        let setting = setting.trim();
        if setting.is_empty() {
            return Err(StoreUrlError::Empty);
        }
        if let Some(rest) = setting.strip_prefix("memory:") {
            return match rest {
                "" => Ok(Self::Memory),
                _ => Err(StoreUrlError::MemoryWithPath(rest.to_owned())),
            };
        }
        if let Some(path) = setting.strip_prefix("redb:") {
            return Ok(match path {
                "" => Self::default_in(data_dir),
                _ => Self::Redb(PathBuf::from(path)),
            });
        }
        if let Some(rest) = setting.strip_prefix("redis://") {
            return match rest {
                "" => Err(StoreUrlError::RedisWithoutHost),
                _ => Ok(Self::Redis(setting.to_owned())),
            };
        }
        Err(StoreUrlError::UnknownScheme(setting.to_owned()))
    }
}

impl fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Memory => f.write_str("memory:"),
            Self::Redb(path) => write!(f, "redb:{}", path.display()),
            Self::Redis(url) => f.write_str(&redact_password(url)),
        }
    }
}

/// `redis://user:secret@host` → `redis://user:***@host`: settings get printed.
fn redact_password(url: &str) -> String {
    let Some(rest) = url.strip_prefix("redis://") else {
        return url.to_owned();
    };
    let authority = rest.split('/').next().unwrap_or_default();
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return url.to_owned();
    };
    let Some((user, _password)) = userinfo.split_once(':') else {
        return url.to_owned();
    };
    format!("redis://{user}:***@{host}{}", &rest[authority.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<StoreUrl, StoreUrlError> {
        StoreUrl::parse(s, Path::new("/data"))
    }

    #[test]
    fn parses_each_form() {
        assert_eq!(parse("memory:"), Ok(StoreUrl::Memory));
        assert_eq!(
            parse("redb:/tmp/x.redb"),
            Ok(StoreUrl::Redb("/tmp/x.redb".into()))
        );
        assert_eq!(
            parse("redb:"),
            Ok(StoreUrl::Redb("/data/usage.redb".into()))
        );
        assert_eq!(
            parse("redis://localhost:6379"),
            Ok(StoreUrl::Redis("redis://localhost:6379".into()))
        );
    }

    #[test]
    fn rejects_misuse() {
        assert_eq!(parse(""), Err(StoreUrlError::Empty));
        assert_eq!(parse("  "), Err(StoreUrlError::Empty));
        assert!(matches!(
            parse("memory:x"),
            Err(StoreUrlError::MemoryWithPath(_))
        ));
        assert!(matches!(
            parse("redis://"),
            Err(StoreUrlError::RedisWithoutHost)
        ));
        assert!(matches!(
            parse("/tmp/x.redb"),
            Err(StoreUrlError::UnknownScheme(_))
        ));
        assert!(matches!(
            parse("sqlite:x"),
            Err(StoreUrlError::UnknownScheme(_))
        ));
    }

    #[test]
    fn display_round_trips() -> Result<(), StoreUrlError> {
        for s in ["memory:", "redb:/tmp/x.redb", "redis://h:1"] {
            assert_eq!(parse(s)?.to_string(), s);
        }
        Ok(())
    }

    #[test]
    fn display_hides_a_redis_password() -> Result<(), StoreUrlError> {
        let shown = |s| parse(s).map(|url| url.to_string());
        assert_eq!(shown("redis://u:secret@h:1/2")?, "redis://u:***@h:1/2");
        assert_eq!(shown("redis://:secret@h:1")?, "redis://:***@h:1");
        assert_eq!(shown("redis://u@h:1")?, "redis://u@h:1");
        assert_eq!(shown("redis://h:1/0")?, "redis://h:1/0");
        Ok(())
    }

    #[test]
    fn an_unreachable_redis_fails_cleanly_and_fast() -> Result<(), StoreUrlError> {
        // Port 1 on loopback: nothing listens, the connection is refused at once.
        let started = std::time::Instant::now();
        let err = match crate::store::open_store(&parse("redis://127.0.0.1:1")?) {
            Ok(_) => panic!("redis opened"),
            Err(err) => err,
        };
        assert_eq!(
            err.to_string(),
            "storage failure: redis: cannot connect to 127.0.0.1:1: connection refused"
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(3));
        Ok(())
    }
}
