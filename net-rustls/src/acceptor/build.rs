//! Building a rustls `ServerConfig` from a [`RustlsAcceptorBuilder`]: every file read
//! and checked here, so a bad input fails the build (or the reload) and never a
//! handshake.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::server::{ProducesTickets, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;

use super::{ClientAuth, RustlsAcceptorBuilder};
use crate::error::RustlsError;
use crate::identities::{valid_pattern, Identities};
use crate::ocsp::{load_response, Candidate};
use crate::pem::{alpn_list, load_ca_certs, roots_of, Identity};
use crate::policy::{provider, versions};
use crate::ticket_rotation::check_period;
use crate::tickets::{client_auth_policy, PolicyBound};

impl RustlsAcceptorBuilder {
    /// The configuration, with its tickets sealed by `tickets` and bound to this
    /// builder's client-auth policy.
    pub(super) fn build_config(
        &self,
        tickets: &Arc<dyn ProducesTickets>,
    ) -> Result<Arc<ServerConfig>, RustlsError> {
        let provider = provider();
        let versions = versions(self.min, self.max)?;
        check_period(self.ticket_key_rotation)?;
        let builder = ServerConfig::builder_with_details(provider.clone(), self.clock.clone())
            .with_protocol_versions(&versions)
            .map_err(|e| RustlsError::rustls("choosing the protocol versions", e))?;
        let (builder, policy) = match (self.client_auth, &self.client_ca) {
            (ClientAuth::None, _) => (builder.with_no_client_auth(), b"none".to_vec()),
            (_, None) => {
                return Err(RustlsError::msg(
                    "client authentication needs a client CA file (client_ca_file)",
                ))
            }
            (mode, Some(ca)) => {
                let cas = load_ca_certs(ca)?;
                let roots = roots_of(&cas, ca)?;
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone());
                let verifier = if mode == ClientAuth::Optional {
                    verifier.allow_unauthenticated()
                } else {
                    verifier
                };
                let verifier = verifier.build().map_err(|e| {
                    RustlsError::verifier(format!("using the client CA file {}", ca.display()), e)
                })?;
                // The policy is the mode and the set of CAs (not the path, nor the
                // file's order or layout): a new CA under the same name is another
                // policy, the same CAs reordered are not.
                let policy = client_auth_policy(&format!("{mode:?}"), &cas);
                (builder.with_client_cert_verifier(verifier), policy)
            }
        };
        let identities = self.identities(&provider)?;
        let mut config = builder.with_cert_resolver(Arc::new(identities));
        config.alpn_protocols = alpn_list(&self.alpn)?;
        // The server's suite order, as net-ssl (and testssl.sh rates a client-chosen
        // order HIGH).
        config.ignore_client_order = true;
        config.ticketer = Arc::new(PolicyBound::new(tickets.clone(), &policy));
        // TLS 1.2 session ids (clients that do not take tickets) stay with this
        // configuration: a reload starts an empty cache rather than check policies.
        config.session_storage = rustls::server::ServerSessionMemoryCache::new(1024);
        Ok(Arc::new(config))
    }

    fn identities(&self, provider: &CryptoProvider) -> Result<Identities, RustlsError> {
        let mut identities = Identities {
            strict: self.refuse_unknown_names,
            ..Identities::default()
        };
        let mut default = self.keys(self.identity.iter(), provider)?;
        if let Some(path) = &self.ocsp {
            self.staple(path, &mut default)?;
        }
        identities.default = default.into_iter().map(|(key, _)| Arc::new(key)).collect();
        // Each name's certificates (in the order added), each name once.
        let mut patterns: Vec<&str> = Vec::new();
        for (pattern, _) in &self.sni {
            if !patterns.contains(&pattern.as_str()) {
                patterns.push(pattern);
            }
        }
        for (name, _) in &self.sni_ocsp {
            if !patterns.contains(&name.as_str()) {
                return Err(RustlsError::msg(format!(
                    "an OCSP response is given for server name {name:?}, which has no certificate"
                )));
            }
        }
        for pattern in patterns {
            if !valid_pattern(pattern) {
                return Err(RustlsError::msg(format!(
                    "SNI name {pattern:?} is not a host name or a one-label wildcard (*.example.com)"
                )));
            }
            let of_name = self.sni.iter().filter(|(n, _)| n == pattern);
            let mut keys = self.keys(of_name.map(|(_, identity)| identity), provider)?;
            // One response per name (the first given), as net-ssl.
            if let Some((_, path)) = self.sni_ocsp.iter().find(|(n, _)| n == pattern) {
                self.staple(path, &mut keys)?;
            }
            for (key, _) in keys {
                identities.insert(pattern, Arc::new(key));
            }
        }
        Ok(identities)
    }

    /// The certified keys of `identities`, each with where its chain came from.
    fn keys<'a>(
        &self,
        identities: impl Iterator<Item = &'a Identity>,
        provider: &CryptoProvider,
    ) -> Result<Vec<(CertifiedKey, String)>, RustlsError> {
        identities
            .map(|identity| Ok((certified_key(identity, provider)?, identity.origins().0)))
            .collect()
    }

    /// Checks the OCSP response in `path` against `keys` and attaches it to the one
    /// it covers: rustls staples it only on handshakes served that certificate.
    fn staple(
        &self,
        path: &std::path::Path,
        keys: &mut [(CertifiedKey, String)],
    ) -> Result<(), RustlsError> {
        let now = self.clock.current_time().ok_or_else(|| {
            RustlsError::msg(format!(
                "checking the OCSP response in {}: the clock gives no time",
                path.display()
            ))
        })?;
        let candidates: Vec<Candidate<'_>> = keys
            .iter()
            .map(|(key, origin)| Candidate {
                chain: &key.cert,
                origin,
            })
            .collect();
        let (der, index) = load_response(path, &candidates, now)?;
        keys[index].0.ocsp = Some(der);
        Ok(())
    }

    /// Every file the configuration reads (what a reload reads again).
    pub(super) fn files(&self) -> Vec<PathBuf> {
        let identities = self.identity.iter().chain(self.sni.iter().map(|(_, i)| i));
        let mut files: Vec<PathBuf> = identities
            .flat_map(|identity| match identity {
                Identity::Files(cert, key) => vec![cert.clone(), key.clone()],
                Identity::Pem(..) => Vec::new(),
            })
            .collect();
        files.extend(self.ocsp.iter().cloned());
        files.extend(self.sni_ocsp.iter().map(|(_, p)| p.clone()));
        files.extend(self.client_ca.iter().cloned());
        files.extend(self.ticket_key_files.iter().cloned());
        files.dedup();
        files
    }
}

/// The chain and key of `identity`, checked to belong together.
fn certified_key(
    identity: &Identity,
    provider: &CryptoProvider,
) -> Result<CertifiedKey, RustlsError> {
    let (chain, key) = identity.load()?;
    let (chain_origin, key_origin) = identity.origins();
    CertifiedKey::from_der(chain, key, provider).map_err(|e| {
        RustlsError::rustls(
            format!("using the certificate in {chain_origin} with the private key in {key_origin}"),
            e,
        )
    })
}
