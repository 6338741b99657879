//! The server's TLS settings: certificates and keys from PEM, the certificate picked by SNI, the
//! protocol versions, ALPN, client certificates (mTLS), and replacing all of it while serving
//! (`server.setSecureContext`): each handshake takes the settings current when it starts.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, ServerConfig};

/// A handshake not finished by then is dropped: a client that opens connections and sends half a
/// ClientHello must not hold them. Browsers finish in well under a second, even on slow links.
pub const DEFAULT_HANDSHAKE_TIMEOUT_MS: u32 = 10_000;

/// `listen({ tls })` as JS normalized it (js/tls-options.js): PEM text, the key decrypted.
#[cfg_attr(feature = "addon", napi_derive::napi(object))]
#[derive(Default, Debug, Clone)]
pub struct TlsOptions {
    pub key: String,
    /// The certificate, then its chain.
    pub cert: String,
    /// CAs that sign client certificates.
    pub ca: Option<String>,
    /// `TLSv1.2` (default) or `TLSv1.3`.
    pub min_version: Option<String>,
    /// Protocols offered by ALPN, in the server's order of preference.
    pub alpn: Option<Vec<String>>,
    pub request_cert: Option<bool>,
    /// With `request_cert`: false lets a client without a certificate in (one it sends must
    /// still verify).
    pub reject_unauthorized: Option<bool>,
    /// Milliseconds; 0 waits for ever.
    pub handshake_timeout: Option<u32>,
    /// Further certificates, picked by the name the client asks for (SNI).
    pub sni: Option<Vec<SniCert>>,
}

#[cfg_attr(feature = "addon", napi_derive::napi(object))]
#[derive(Default, Debug, Clone)]
pub struct SniCert {
    /// A host name, or `*.example.com` for any one label under it.
    pub name: String,
    pub key: String,
    pub cert: String,
}

/// What every TLS connection of a server starts from.
pub struct Settings {
    current: Mutex<Arc<ServerConfig>>,
    pub handshake_timeout: Option<Duration>,
    /// The protocols ALPN offers; kept across a replacement that names none.
    alpn: Vec<Vec<u8>>,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("handshake_timeout", &self.handshake_timeout)
            .finish_non_exhaustive()
    }
}

impl Settings {
    /// `default_alpn`: what ALPN offers when the options name nothing (h2 first when the server
    /// speaks it).
    pub fn new(opts: &TlsOptions, default_alpn: &[&[u8]]) -> Result<Settings, String> {
        let default_alpn = default_alpn.iter().map(|p| p.to_vec()).collect();
        let alpn = alpn_or(opts, default_alpn);
        let config = server_config(opts, &alpn)?;
        let timeout = opts
            .handshake_timeout
            .unwrap_or(DEFAULT_HANDSHAKE_TIMEOUT_MS);
        Ok(Settings {
            current: Mutex::new(Arc::new(config)),
            handshake_timeout: (timeout > 0).then(|| Duration::from_millis(u64::from(timeout))),
            alpn,
        })
    }

    /// The settings a handshake starting now uses.
    pub fn current(&self) -> Arc<ServerConfig> {
        self.current
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Replaces certificates and options for the handshakes that start from now on; connections
    /// already open keep what they agreed. Nothing changes when `opts` is invalid.
    pub fn replace(&self, opts: &TlsOptions) -> Result<(), String> {
        let alpn = alpn_or(opts, self.alpn.clone());
        let config = Arc::new(server_config(opts, &alpn)?);
        *self
            .current
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = config;
        Ok(())
    }
}

/// The protocols `opts` names for ALPN, else `fallback`.
fn alpn_or(opts: &TlsOptions, fallback: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    match &opts.alpn {
        Some(list) => list.iter().map(|p| p.as_bytes().to_vec()).collect(),
        None => fallback,
    }
}

fn server_config(opts: &TlsOptions, alpn: &[Vec<u8>]) -> Result<ServerConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let versions: &[&rustls::SupportedProtocolVersion] = match opts.min_version.as_deref() {
        None | Some("TLSv1.2") => &[&rustls::version::TLS13, &rustls::version::TLS12],
        Some("TLSv1.3") => &[&rustls::version::TLS13],
        Some(other) => {
            return Err(format!(
                "tls.minVersion {other:?}: TLSv1.2 and TLSv1.3 are supported (older versions are \
                 broken and no browser offers them)"
            ))
        }
    };
    let default = certified(&opts.cert, &opts.key, &provider, "tls")?;
    let mut by_name = Vec::new();
    for extra in opts.sni.iter().flatten() {
        let name = extra.name.to_ascii_lowercase();
        let what = format!("tls.sni {name:?}");
        by_name.push((name, certified(&extra.cert, &extra.key, &provider, &what)?));
    }
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .map_err(|e| format!("tls: {e}"))?;
    let builder = if opts.request_cert.unwrap_or(false) {
        let ca = opts
            .ca
            .as_deref()
            .ok_or("tls.requestCert needs tls.ca: the CAs that sign client certificates")?;
        let mut roots = RootCertStore::empty();
        for cert in certs(ca, "tls.ca")? {
            roots
                .add(cert)
                .map_err(|e| format!("tls.ca: a certificate rustls cannot use: {e}"))?;
        }
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
        let verifier = if opts.reject_unauthorized.unwrap_or(true) {
            verifier
        } else {
            verifier.allow_unauthenticated()
        };
        builder.with_client_cert_verifier(verifier.build().map_err(|e| format!("tls.ca: {e}"))?)
    } else {
        builder.with_no_client_auth()
    };
    let mut config = builder.with_cert_resolver(Arc::new(Certs { default, by_name }));
    config.alpn_protocols = alpn.to_vec();
    // Stateless resumption (TLS 1.3 tickets, TLS 1.2 session tickets): a returning client skips
    // the certificate signature, the costliest step of a handshake.
    config.ticketer = rustls::crypto::ring::Ticketer::new().map_err(|e| format!("tls: {e}"))?;
    Ok(config)
}

fn certs(pem: &str, what: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let list = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{what}: not PEM certificates: {e}"))?;
    if list.is_empty() {
        return Err(format!(
            "{what}: no certificate (a PEM \"BEGIN CERTIFICATE\" block) found"
        ));
    }
    Ok(list)
}

fn certified(
    cert: &str,
    key: &str,
    provider: &CryptoProvider,
    what: &str,
) -> Result<Arc<CertifiedKey>, String> {
    let chain = certs(cert, &format!("{what}.cert"))?;
    let key = PrivateKeyDer::from_pem_slice(key.as_bytes())
        .map_err(|e| format!("{what}.key: no private key found in PEM ({e})"))?;
    CertifiedKey::from_der(chain, key, provider)
        .map(Arc::new)
        .map_err(|e| format!("{what}: the key does not fit the certificate or is unusable: {e}"))
}

/// The certificate for a ClientHello: an exact SNI name, then a wildcard for its parent, then
/// the default (also for clients that send no name, such as those connecting by IP).
#[derive(Debug)]
struct Certs {
    default: Arc<CertifiedKey>,
    by_name: Vec<(String, Arc<CertifiedKey>)>,
}

impl ResolvesServerCert for Certs {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        if let Some(name) = hello.server_name() {
            let name = name.to_ascii_lowercase();
            let exact = self.by_name.iter().find(|(n, _)| *n == name);
            let wildcard = || {
                let parent = name.split_once('.')?.1;
                self.by_name
                    .iter()
                    .find(|(n, _)| n.strip_prefix("*.") == Some(parent))
            };
            if let Some((_, key)) = exact.or_else(wildcard) {
                return Some(key.clone());
            }
        }
        Some(self.default.clone())
    }
}
