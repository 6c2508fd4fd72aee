//! Upstream's `--tls-server-*` and `--basic-auth-*` flags as an exporter-toolkit web config, which
//! the runtime then serves with (HTTPS, client certificates, basic auth) as if it had been given
//! with `--web.config.file`.

use crate::flags::UpstreamWebFlags;

/// Upstream's `--tls-server-*` and `--basic-auth-*` flags as an exporter-toolkit web config
/// (JSON, which is YAML too); `None` when none of them is set.
pub fn upstream_web_config(web: &UpstreamWebFlags) -> Result<Option<serde_json::Value>, String> {
    let mut config = serde_json::Map::new();
    match (&web.tls_server_cert_file, &web.tls_server_key_file) {
        (Some(cert), Some(key)) => {
            let min_version = web.tls_server_min_version.trim().replace('.', "");
            let mut tls = serde_json::json!({
                "cert_file": absolute(cert)?,
                "key_file": absolute(key)?,
                "min_version": min_version,
            });
            if let Some(ca) = &web.tls_server_ca_cert_file {
                tls["client_ca_file"] = absolute(ca)?.into();
                tls["client_auth_type"] = "RequireAndVerifyClientCert".into();
            }
            config.insert("tls_server_config".into(), tls);
        }
        (None, None) if web.tls_server_ca_cert_file.is_none() => {}
        _ => {
            return Err(
                "--tls-server-cert-file and --tls-server-key-file go together (and \
                 --tls-server-ca-cert-file needs both)"
                    .into(),
            )
        }
    }
    match (
        web.basic_auth_username.is_empty(),
        web.basic_auth_password.is_empty(),
    ) {
        (true, true) => {}
        (false, false) => {
            let hash = bcrypt::hash(&web.basic_auth_password, BASIC_AUTH_BCRYPT_COST)
                .map_err(|e| format!("--basic-auth-password: {e}"))?;
            config.insert(
                "basic_auth_users".into(),
                serde_json::json!({ web.basic_auth_username.as_str(): hash }),
            );
        }
        _ => return Err("--basic-auth-username and --basic-auth-password go together".into()),
    }
    Ok((!config.is_empty()).then_some(serde_json::Value::Object(config)))
}

/// bcrypt's cost for the password of `--basic-auth-password`: each check costs about 50 ms at 10
/// (the runtime checks each scrape), and the hash never leaves the process's private file.
const BASIC_AUTH_BCRYPT_COST: u32 = 10;

fn absolute(path: &std::path::Path) -> Result<String, String> {
    std::path::absolute(path)
        .map(|p| p.display().to_string())
        .map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flags::tests::parse;

    #[test]
    fn upstream_web_flags_become_a_web_config() {
        let (f, _) = parse(&["x"]).unwrap();
        assert_eq!(upstream_web_config(&f.upstream_web), Ok(None));
        let (f, _) = parse(&[
            "x",
            "--tls-server-cert-file=/c.pem",
            "--tls-server-key-file=/k.pem",
            "--tls-server-ca-cert-file=/ca.pem",
            "--tls-server-min-version=TLS1.3",
        ])
        .unwrap();
        let config = upstream_web_config(&f.upstream_web).unwrap().unwrap();
        assert_eq!(
            config,
            serde_json::json!({"tls_server_config": {
                "cert_file": "/c.pem",
                "key_file": "/k.pem",
                "client_ca_file": "/ca.pem",
                "client_auth_type": "RequireAndVerifyClientCert",
                "min_version": "TLS13",
            }})
        );
        let (f, _) = parse(&[
            "x",
            "--basic-auth-username=prom",
            "--basic-auth-password=pw",
        ])
        .unwrap();
        let config = upstream_web_config(&f.upstream_web).unwrap().unwrap();
        let hash = config["basic_auth_users"]["prom"].as_str().unwrap();
        assert!(bcrypt::verify("pw", hash).unwrap());
        for half in [
            &["x", "--tls-server-cert-file=/c.pem"][..],
            &["x", "--tls-server-ca-cert-file=/ca.pem"],
            &["x", "--basic-auth-password=pw"],
        ] {
            let (f, _) = parse(half).unwrap();
            assert!(upstream_web_config(&f.upstream_web).is_err(), "{half:?}");
        }
    }
}
