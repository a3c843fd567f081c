//! `yishu.toml` with `YISHU_*` environment overrides.

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Settings of one installation. Every field has a default, so an empty file is valid.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Holds the SQLite metadata file, the lake and the indexes.
    pub data_dir: PathBuf,
    /// Address the server listens on.
    pub listen: String,
    /// `sqlite://…` or `postgres://…`; default: `sqlite://<data_dir>/meta.db`.
    pub database_url: Option<String>,
    /// Local path or `s3://bucket/prefix`; default: `<data_dir>/lake`.
    pub lake_root: Option<String>,
    /// Mark cookies Secure (when served over HTTPS).
    pub secure_cookies: bool,
    /// Where the server may connect on a user's word (mounted APIs and databases, webhooks):
    /// host names (`api.example.gov.cn`, `*.gov.cn`) and ranges (`10.20.0.0/16`). Empty: nowhere.
    pub outbound: OutboundConfig,
    /// The address the public reaches the portal at (`https://data.example.gov.cn`), for links
    /// in DCAT and CKAN answers; default: the Host the request came with.
    pub public_url: Option<String>,
    /// The licence open data is published under (an IRI in DCAT).
    pub open_license: Option<String>,
    /// Requests a minute one address may make of the public catalog (CKAN actions, DCAT,
    /// portal pages); default 6,000.
    pub open_pages_per_minute: Option<i64>,
}

/// The `[outbound]` table.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboundConfig {
    pub allow: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("yishu-data"),
            listen: "127.0.0.1:8080".into(),
            database_url: None,
            lake_root: None,
            secure_cookies: false,
            outbound: OutboundConfig::default(),
            public_url: None,
            open_license: None,
            open_pages_per_minute: None,
        }
    }
}

impl Config {
    /// Reads the file (if given) and applies environment overrides.
    pub fn load(path: Option<&Path>) -> Result<Self> {
        let mut c = match path {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("cannot read config file {}", p.display()))?;
                toml::from_str(&text)
                    .with_context(|| format!("config file {} is not valid", p.display()))?
            }
            None => Config::default(),
        };
        c.apply_env(|k| std::env::var(k).ok())?;
        Ok(c)
    }

    fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) -> Result<()> {
        if let Some(v) = get("YISHU_DATA_DIR") {
            self.data_dir = v.into();
        }
        if let Some(v) = get("YISHU_LISTEN") {
            self.listen = v;
        }
        if let Some(v) = get("YISHU_DATABASE_URL") {
            self.database_url = Some(v);
        }
        if let Some(v) = get("YISHU_PUBLIC_URL") {
            self.public_url = Some(v);
        }
        if let Some(v) = get("YISHU_LAKE_ROOT") {
            self.lake_root = Some(v);
        }
        if let Some(v) = get("YISHU_OUTBOUND_ALLOW") {
            self.outbound.allow = v
                .split(',')
                .map(str::trim)
                .filter(|x| !x.is_empty())
                .map(String::from)
                .collect();
        }
        if let Some(v) = get("YISHU_SECURE_COOKIES") {
            self.secure_cookies = match v.as_str() {
                "1" | "true" | "yes" => true,
                "0" | "false" | "no" | "" => false,
                other => bail!("YISHU_SECURE_COOKIES must be true or false, got '{other}'"),
            };
        }
        Ok(())
    }

    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("meta.db").display()))
    }

    pub fn lake_root(&self) -> String {
        self.lake_root
            .clone()
            .unwrap_or_else(|| self.data_dir.join("lake").display().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_overrides_file() {
        let mut c: Config =
            toml::from_str("listen = \"0.0.0.0:9000\"\ndata_dir = \"/srv/yishu\"").unwrap();
        assert_eq!(c.database_url(), "sqlite:///srv/yishu/meta.db");
        c.apply_env(|k| (k == "YISHU_LISTEN").then(|| "127.0.0.1:1".to_string()))
            .unwrap();
        assert_eq!(c.listen, "127.0.0.1:1");
        assert!(
            c.apply_env(|k| (k == "YISHU_SECURE_COOKIES").then(|| "maybe".to_string()))
                .is_err()
        );
        assert!(toml::from_str::<Config>("lisen = 1").is_err());
    }
}
