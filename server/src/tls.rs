//! HTTPS served by the relay itself, for a district without a reverse
//! proxy: a certificate chain and its private key, as PEM files (what a
//! certificate authority, `certbot` or `openssl` writes), through rustls.
//!
//! The files are read at start, and again on SIGHUP, so that a renewed
//! certificate takes over without a restart; a renewal that cannot be read
//! leaves the one in use. Only TLS 1.2 and 1.3 are offered, with rustls's
//! default ciphers; HTTP/1.1 is negotiated (the listener serves nothing
//! else).

use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::crypto::ring::default_provider;
use tokio_rustls::rustls::server::{ClientHello, ResolvesServerCert};
use tokio_rustls::rustls::sign::CertifiedKey;
use tokio_rustls::rustls::{ServerConfig, version};

use crate::error::{AppError, AppResult};

/// The relay's certificate, and what accepts TLS connections with it.
#[derive(Clone)]
pub struct Tls {
    files: (PathBuf, PathBuf),
    current: Arc<Current>,
    acceptor: TlsAcceptor,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("cert", &self.files.0)
            .field("key", &self.files.1)
            .finish_non_exhaustive()
    }
}

/// The certificate in use, replaced on reload.
#[derive(Debug)]
struct Current(RwLock<Arc<CertifiedKey>>);

impl ResolvesServerCert for Current {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.0
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        )
    }
}

impl Tls {
    /// Reads the certificate chain at `cert` and the private key at `key`.
    /// Errors name the file, what is wrong with it, and what to do.
    pub fn load(cert: &Path, key: &Path) -> AppResult<Self> {
        let certified = certified_key(cert, key)?;
        let current = Arc::new(Current(RwLock::new(Arc::new(certified))));
        let mut config = ServerConfig::builder_with_provider(Arc::new(default_provider()))
            .with_protocol_versions(&[&version::TLS13, &version::TLS12])
            .map_err(|e| AppError::Internal(format!("TLS: {e}")))?
            .with_no_client_auth()
            .with_cert_resolver(current.clone());
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self {
            files: (cert.to_path_buf(), key.to_path_buf()),
            current,
            acceptor: TlsAcceptor::from(Arc::new(config)),
        })
    }

    /// The certificate the settings name, if they name one (both files, or
    /// neither).
    pub fn from_settings(settings: &crate::config::Settings) -> AppResult<Option<Self>> {
        match (&settings.tls_cert, &settings.tls_key) {
            (Some(cert), Some(key)) => Self::load(cert, key).map(Some),
            (None, None) => Ok(None),
            _ => Err(AppError::BadRequest(
                "HTTPS needs both a certificate and its key: give --tls-cert and --tls-key (tls_cert and tls_key in the settings file), or neither".into(),
            )),
        }
    }

    /// Reads the files again (a renewed certificate). On an error the
    /// certificate in use stays.
    pub fn reload(&self) -> AppResult<()> {
        let certified = certified_key(&self.files.0, &self.files.1)?;
        *self
            .current
            .0
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(certified);
        Ok(())
    }

    /// What accepts connections.
    pub fn acceptor(&self) -> &TlsAcceptor {
        &self.acceptor
    }
}

fn certified_key(cert: &Path, key: &Path) -> AppResult<CertifiedKey> {
    let bad = |path: &Path, why: String| {
        AppError::BadRequest(format!("the TLS {}: {why}", path.display()))
    };
    let readable = |path: &Path, what: &str| -> AppResult<Vec<u8>> {
        std::fs::read(path).map_err(|e| {
            bad(
                path,
                format!(
                    "cannot read it ({e}); give the {what} as a PEM file with --tls-{} (or tls_{} in the settings file), readable by the relay's user",
                    if what == "certificate" { "cert" } else { "key" },
                    if what == "certificate" { "cert" } else { "key" },
                ),
            )
        })
    };
    let cert_pem = readable(cert, "certificate")?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| bad(cert, format!("is not a PEM certificate file ({e})")))?;
    if chain.is_empty() {
        return Err(bad(
            cert,
            "holds no certificate: it should contain -----BEGIN CERTIFICATE----- blocks (the server's first, then its chain)".into(),
        ));
    }
    let key_pem = readable(key, "private key")?;
    let private = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
        bad(
            key,
            format!(
                "holds no private key ({e}): it should contain -----BEGIN PRIVATE KEY----- (or an RSA or EC private key)"
            ),
        )
    })?;
    let provider = default_provider();
    let signer = provider
        .key_provider
        .load_private_key(private)
        .map_err(|e| bad(key, format!("is a key rustls cannot use ({e})")))?;
    let certified = CertifiedKey::new(chain, signer);
    certified.keys_match().map_err(|_| {
        AppError::BadRequest(format!(
            "the TLS key {} does not belong to the certificate {}: give the key the certificate was issued for",
            key.display(),
            cert.display()
        ))
    })?;
    Ok(certified)
}
