//! A throwaway certificate authority and a server certificate under it, written to files the way
//! hookguard's config names them, with the rustls server config that presents it.

use std::path::PathBuf;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

pub struct Pki {
    pub ca_pem: String,
    pub cert_path: PathBuf,
    pub key_path: PathBuf,
    pub ca_path: PathBuf,
    /// Offers only http/1.1 by ALPN, as the tests' clients speak it.
    pub server_config: Arc<rustls::ServerConfig>,
    _dir: tempfile::TempDir,
}

/// A fresh CA and a leaf for `localhost` and `127.0.0.1`.
pub fn pki() -> Pki {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca =
        CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("key")).expect("ca");
    let leaf_key = KeyPair::generate().expect("key");
    let leaf = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
        .expect("params")
        .signed_by(&leaf_key, &ca)
        .expect("leaf");
    let dir = tempfile::tempdir().expect("tempdir");
    let cert_path = dir.path().join("tls.crt");
    let key_path = dir.path().join("tls.key");
    let ca_path = dir.path().join("ca.crt");
    std::fs::write(&cert_path, leaf.pem()).expect("write");
    std::fs::write(&key_path, leaf_key.serialize_pem()).expect("write");
    std::fs::write(&ca_path, ca.pem()).expect("write");
    let mut server_config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(
        vec![CertificateDer::from(leaf.der().to_vec())],
        PrivateKeyDer::try_from(leaf_key.serialize_der()).expect("key der"),
    )
    .expect("server config");
    server_config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Pki {
        ca_pem: ca.pem(),
        cert_path,
        key_path,
        ca_path,
        server_config: Arc::new(server_config),
        _dir: dir,
    }
}
