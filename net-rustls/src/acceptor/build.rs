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
use crate::ocsp::load_response;
use crate::pem::{alpn_list, load_ca_certs, roots_of, Identity};
use crate::policy::{provider, versions};
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
        let builder = ServerConfig::builder_with_provider(provider.clone())
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
        for (i, identity) in self.identity.iter().enumerate() {
            let mut key = certified_key(identity, provider)?;
            if i == 0 {
                if let Some(path) = &self.ocsp {
                    key.ocsp = Some(load_response(path)?);
                }
            }
            identities.default.push(Arc::new(key));
        }
        for (pattern, identity) in &self.sni {
            if !valid_pattern(pattern) {
                return Err(RustlsError::msg(format!(
                    "SNI name {pattern:?} is not a host name or a one-label wildcard (*.example.com)"
                )));
            }
            identities.insert(pattern, Arc::new(certified_key(identity, provider)?));
        }
        Ok(identities)
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
