//! TLS at the load balancer: the lab's own certificate authority, and what a
//! frontend offers.
//!
//! In production TLS ends at the load balancer: clients speak HTTPS (and,
//! when both sides offer it in the TLS handshake's ALPN extension, HTTP/2)
//! to HAProxy, and HAProxy speaks plain HTTP/1.1 to the nodes on a private
//! network. That is the shape [`Frontend`] gives a cluster. It matters to
//! the claims because it changes what a credential costs: HTTP/2 compresses
//! repeated headers (HPACK), and every new connection pays a handshake that
//! may dwarf a signature check (`docs/tls.md`).
//!
//! A certificate is needed for that, and none may be committed. So each
//! cluster (and each `docker compose up`) generates a fresh authority,
//! [`LabCa`]: a CA certificate that clients are told to trust (reqwest's
//! root store, `curl --cacert`) and one server certificate it signed for the
//! names clients use (`localhost`, `127.0.0.1`, compose's `haproxy`). The
//! keys are ECDSA P-256, the usual choice for a web server today; the CA's
//! key never leaves memory and is gone when the lab is.

use std::{
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use serde::{Deserialize, Serialize};

use crate::HarnessError;

/// What HAProxy's public frontends speak to clients. Towards the nodes it is
/// always HTTP/1.1 in clear text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Frontend {
    /// Terminate TLS at HAProxy (`bind … ssl crt …`).
    pub tls: bool,
    /// Offer HTTP/2 in ALPN (`h2,http/1.1`). A clear-text frontend needs no
    /// switch for HTTP/2: HAProxy recognises a client that starts with the
    /// HTTP/2 preface ("prior knowledge") on every HTTP frontend.
    pub h2: bool,
}

impl Frontend {
    pub const CLEAR: Frontend = Frontend {
        tls: false,
        h2: false,
    };

    /// Refuses `h2` without `tls`: without a TLS handshake there is no ALPN
    /// to offer it in, so the switch would change nothing.
    pub fn validate(self) -> Result<(), HarnessError> {
        if self.h2 && !self.tls {
            return Err(HarnessError::Config(
                "--h2 offers HTTP/2 in the TLS handshake (ALPN), so it needs --tls; in clear text \
                 HAProxy already accepts HTTP/2 from any client that starts with it (prior knowledge)"
                    .into(),
            ));
        }
        Ok(())
    }

    pub fn scheme(self) -> &'static str {
        if self.tls {
            "https"
        } else {
            "http"
        }
    }

    /// The ALPN list of a TLS bind, most preferred first.
    pub fn alpn(self) -> Option<&'static str> {
        match (self.tls, self.h2) {
            (false, _) => None,
            (true, true) => Some("h2,http/1.1"),
            (true, false) => Some("http/1.1"),
        }
    }

    /// "HTTP/1.1 in clear text", "TLS, ALPN h2,http/1.1", …: for tables and logs.
    pub fn describe(self) -> String {
        match self.alpn() {
            None => "clear text (HTTP/1.1, or HTTP/2 with prior knowledge)".into(),
            Some(alpn) => format!("TLS, ALPN {alpn}"),
        }
    }
}

/// Names every generated server certificate is valid for: what a client on
/// the host dials, and compose's service name for HAProxy (the orders
/// services call the auth stacks through it).
pub const SERVER_NAMES: [&str; 4] = ["localhost", "127.0.0.1", "::1", "haproxy"];

/// A certificate authority made for one lab, and the server certificate it signed.
pub struct LabCa {
    /// The CA certificate (PEM): what clients trust.
    pub ca_pem: String,
    /// Server certificate, then its private key (PEM): the one-file form of
    /// HAProxy's `crt`.
    pub server_pem: String,
}

/// Where [`LabCa::write`] put the files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TlsFiles {
    pub ca: PathBuf,
    pub server: PathBuf,
}

pub const CA_FILE: &str = "ca.pem";
pub const SERVER_FILE: &str = "haproxy.pem";

fn tls_error(e: rcgen::Error) -> HarnessError {
    HarnessError::Config(format!("generating the lab's certificates: {e}"))
}

impl LabCa {
    /// A new CA and a server certificate for `names` (DNS names or IP addresses).
    pub fn generate(names: &[&str]) -> Result<Self, HarnessError> {
        let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(tls_error)?;
        ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        ca.distinguished_name.push(
            DnType::CommonName,
            "authlab lab CA (generated, not trusted anywhere else)",
        );
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let authority = CertifiedIssuer::self_signed(ca, KeyPair::generate().map_err(tls_error)?)
            .map_err(tls_error)?;

        let mut server =
            CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())
                .map_err(tls_error)?;
        server
            .distinguished_name
            .push(DnType::CommonName, "authlab HAProxy");
        server.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let key = KeyPair::generate().map_err(tls_error)?;
        let certificate = server.signed_by(&key, &authority).map_err(tls_error)?;
        Ok(Self {
            ca_pem: authority.pem(),
            server_pem: format!("{}{}", certificate.pem(), key.serialize_pem()),
        })
    }

    /// Writes `ca.pem` (0644) and `haproxy.pem` (0600: it holds the key) into `dir`.
    pub fn write(&self, dir: &Path) -> Result<TlsFiles, HarnessError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| HarnessError::Io(format!("{}: {e}", dir.display())))?;
        let files = TlsFiles {
            ca: dir.join(CA_FILE),
            server: dir.join(SERVER_FILE),
        };
        for (path, text, mode) in [
            (&files.ca, &self.ca_pem, 0o644),
            (&files.server, &self.server_pem, 0o600),
        ] {
            std::fs::write(path, text)
                .and_then(|()| {
                    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
                })
                .map_err(|e| HarnessError::Io(format!("{}: {e}", path.display())))?;
        }
        Ok(files)
    }
}

/// A reqwest client that trusts the lab's CA (and nothing else), for a
/// cluster whose frontends speak TLS.
pub fn client_trusting(ca_pem: &str) -> Result<reqwest::ClientBuilder, HarnessError> {
    let ca = reqwest::Certificate::from_pem(ca_pem.as_bytes())
        .map_err(|e| HarnessError::Config(format!("the lab's CA certificate: {e}")))?;
    Ok(reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(ca))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn h2_needs_tls_and_alpn_follows_the_switches() {
        assert!(Frontend {
            tls: false,
            h2: true
        }
        .validate()
        .is_err());
        assert_eq!(Frontend::CLEAR.alpn(), None);
        assert_eq!(Frontend::CLEAR.scheme(), "http");
        let tls = Frontend {
            tls: true,
            h2: false,
        };
        assert_eq!(tls.alpn(), Some("http/1.1"));
        let h2 = Frontend {
            tls: true,
            h2: true,
        };
        assert_eq!((h2.alpn(), h2.scheme()), (Some("h2,http/1.1"), "https"));
        assert!(h2.validate().is_ok());
    }

    #[test]
    fn the_files_are_pem_and_the_key_is_private() {
        let ca = LabCa::generate(&SERVER_NAMES).unwrap();
        assert!(ca.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert_eq!(ca.server_pem.matches("BEGIN CERTIFICATE").count(), 1);
        assert!(ca.server_pem.contains("PRIVATE KEY-----"));
        assert!(!ca.ca_pem.contains("PRIVATE KEY"));
        let dir = tempfile::tempdir().unwrap();
        let files = ca.write(dir.path()).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!((mode(&files.ca), mode(&files.server)), (0o644, 0o600));
        // reqwest (rustls) accepts it as a root.
        client_trusting(&ca.ca_pem).unwrap().build().unwrap();
    }
}
