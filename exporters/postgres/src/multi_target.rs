//! `/probe?target=host:port/db&auth_module=name`: one exporter scraping many servers. Credentials
//! come from `auth_modules` in `--config.file`, never from the query string: a target that
//! carries a password is refused. Each target keeps its own pooled connection between probes.

use std::sync::Arc;

use exporter_core::kept_targets::KeptTargets;
use exporter_core::server::{
    metrics_response, text_response, HttpResponse, RouteHandler, RouteRequest,
};
use exporter_core::{BoxFuture, Exporter};
use http::StatusCode;

use crate::auth_modules::AuthModules;
use crate::dsn::Dsn;
use crate::Options;

/// Most targets whose connections are kept; beyond it the least recently used is dropped.
const MAX_TARGETS: usize = 128;

/// The `/probe` route: one exporter (and its pooled connection) kept per target and auth module.
pub struct ProbeHandler {
    auth_modules: AuthModules,
    options: Arc<Options>,
    /// (target, auth_module) -> the exporter probing it.
    targets: KeptTargets<(String, String), Exporter>,
}

impl ProbeHandler {
    /// A handler probing with `auth_modules` and the collectors of `options`.
    pub fn new(auth_modules: AuthModules, options: Arc<Options>) -> ProbeHandler {
        ProbeHandler {
            auth_modules,
            options,
            targets: KeptTargets::new(MAX_TARGETS),
        }
    }

    /// The DSN for a probe request, or the reason to answer 400.
    pub fn target_dsn(&self, target: &str, auth_module: Option<&str>) -> Result<Dsn, String> {
        let target = target.trim();
        if target.is_empty() {
            return Err("target parameter is missing".into());
        }
        let uri = if target.starts_with("postgres://") || target.starts_with("postgresql://") {
            target.to_string()
        } else {
            format!("postgresql://{target}")
        };
        let module = match auth_module.filter(|m| !m.is_empty()) {
            Some(name) => Some(
                self.auth_modules
                    .modules
                    .get(name)
                    .ok_or_else(|| format!("auth_module {name:?} is not in the config file"))?,
            ),
            None => None,
        };
        let mut uri = uri;
        if let Some(m) = module {
            for (k, v) in &m.options {
                uri.push(if uri.contains('?') { '&' } else { '?' });
                uri.push_str(&format!("{k}={v}"));
            }
        }
        let mut dsn = Dsn::parse(&uri).map_err(|e| format!("target: {e}"))?;
        if dsn.has_password() {
            return Err("target must not carry credentials; use an auth_module".into());
        }
        if let Some(m) = module {
            dsn.set_user(&m.username);
            dsn.set_password(&m.password);
        }
        Ok(dsn)
    }

    fn exporter_for(&self, target: &str, module: &str, dsn: Dsn) -> Result<Arc<Exporter>, String> {
        let key = (target.to_string(), module.to_string());
        self.targets.get_or_try_insert(&key, || {
            Ok(crate::build_exporter(vec![dsn], &self.options)?.with_exporter_metrics(false))
        })
    }
}

impl RouteHandler for ProbeHandler {
    fn handle(&self, req: RouteRequest) -> BoxFuture<'_, HttpResponse> {
        Box::pin(async move {
            let target = req.query_param("target").unwrap_or_default();
            let module = req.query_param("auth_module").unwrap_or_default();
            let exporter = self
                .target_dsn(&target, Some(&module))
                .and_then(|dsn| self.exporter_for(&target, &module, dsn));
            match exporter {
                Ok(e) => metrics_response(e.render(req.deadline).await, req.accepts_gzip()),
                Err(msg) => {
                    let mut r = text_response(StatusCode::BAD_REQUEST, "");
                    *r.body_mut() = http_body_util::Full::new(bytes::Bytes::from(msg + "\n"));
                    r
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe() -> ProbeHandler {
        let auth_modules = AuthModules::parse(
            "auth_modules:\n  m:\n    type: userpass\n    userpass:\n      username: mon\n      password: pw\n    options:\n      sslmode: disable\n",
        )
        .unwrap();
        ProbeHandler::new(auth_modules, Arc::new(Options::default()))
    }

    #[test]
    fn targets_take_credentials_from_auth_modules_only() {
        let p = probe();
        let d = p.target_dsn("db1:5433/app", Some("m")).unwrap();
        assert_eq!(d.user(), Some("mon"));
        assert_eq!(d.to_config().get_password(), Some(&b"pw"[..]));
        assert_eq!(d.sslmode, crate::dsn::SslMode::Disable);
        assert_eq!(d.fingerprint(), "db1:5433");
        let e = p.target_dsn("u:secret@db1/app", None).unwrap_err();
        assert!(e.contains("credentials") && !e.contains("secret"), "{e}");
        assert!(p.target_dsn("", None).unwrap_err().contains("target"));
        assert!(p
            .target_dsn("db1", Some("nope"))
            .unwrap_err()
            .contains("nope"));
        assert!(p
            .target_dsn("postgresql://db1/x?sslmode=disable", None)
            .is_ok());
    }
}
