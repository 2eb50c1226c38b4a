//! Building the OpenSSL contexts of a [`TlsAcceptorBuilder`]: one per identity (the
//! default and each SNI name), all with the same settings and the same ticket keys.
//! Used at build time and by every reload; it reads every file afresh.

use std::sync::Arc;

use openssl::ssl::{
    NameType, SniError, SslContext, SslContextBuilder, SslMethod, SslOptions, SslSessionCacheMode,
    SslVerifyMode,
};
use openssl::x509::X509;

use super::session_context::session_id_context;
use super::{set_alpn, ClientAuth, TlsAcceptorBuilder};
use crate::config::{apply_defaults, load_ca_file, Identity};
use crate::error::TlsError;
use crate::ocsp;
use crate::server_name::{covered_by, normalize, valid_pattern, ServerNames};
use crate::ticket_keys::TicketKeyStore;

impl TlsAcceptorBuilder {
    /// The default context, with the SNI contexts reachable from its callback.
    pub(super) fn build_context(
        &self,
        ticket_keys: &Arc<TicketKeyStore>,
    ) -> Result<SslContext, TlsError> {
        let _ = openssl::error::ErrorStack::get(); // start from a clean error queue
        let client_ca = self.client_ca()?;
        let mut names = ServerNames::default();
        let mut patterns: Vec<&str> = Vec::new();
        for (name, _) in &self.sni {
            if !patterns.contains(&name.as_str()) {
                patterns.push(name);
            }
        }
        for (name, _) in &self.sni_ocsp {
            if !patterns.contains(&name.as_str()) {
                return Err(TlsError::msg(format!(
                    "an OCSP response is given for server name {name:?}, which has no certificate"
                )));
            }
        }
        for pattern in patterns {
            if !valid_pattern(pattern) {
                return Err(TlsError::msg(format!(
                    "{pattern:?} is not a server name (a host name or *.domain expected)"
                )));
            }
            let identities: Vec<&Identity> = self
                .sni
                .iter()
                .filter(|(n, _)| n == pattern)
                .map(|(_, i)| i)
                .collect();
            let ocsp = self
                .sni_ocsp
                .iter()
                .find(|(n, _)| n == pattern)
                .map(|(_, p)| p);
            let mut ctx = self.context(
                identities.iter().copied(),
                client_ca.as_deref(),
                ticket_keys,
            )?;
            if let Some(path) = ocsp {
                ocsp::staple(&mut ctx, ocsp::load_response(path, identities)?)?;
            }
            names.insert(pattern, ctx.build());
        }
        let mut ctx = self.context(self.identity.iter(), client_ca.as_deref(), ticket_keys)?;
        if let Some(path) = &self.ocsp {
            ocsp::staple(&mut ctx, ocsp::load_response(path, &self.identity)?)?;
        }
        let default_names = if self.refuse_unknown_names {
            Some(self.default_names()?)
        } else {
            None
        };
        if !names.is_empty() || default_names.is_some() {
            ctx.set_servername_callback(move |ssl, _alert| {
                let Some(name) = ssl.servername(NameType::HOST_NAME) else {
                    return Ok(()); // no SNI: the default identity
                };
                if let Some(other) = names.find(name) {
                    return ssl
                        .set_ssl_context(other)
                        .map_err(|_| SniError::ALERT_FATAL);
                }
                match &default_names {
                    // OpenSSL's alert for a fatal SNI answer is unrecognized_name.
                    Some(ours) if !covered_by(ours, name) => {
                        log::info!("TLS: refusing unknown server name {name:?}");
                        Err(SniError::ALERT_FATAL)
                    }
                    _ => Ok(()),
                }
            });
        }
        Ok(ctx.build())
    }

    /// The DNS names of the default identity's certificates.
    fn default_names(&self) -> Result<Vec<String>, TlsError> {
        let mut names = Vec::new();
        for identity in &self.identity {
            names.extend(certificate_names(&identity.leaf()?));
        }
        Ok(names)
    }

    fn client_ca(&self) -> Result<Option<Vec<X509>>, TlsError> {
        match (&self.client_ca, self.client_auth) {
            (None, ClientAuth::None) => Ok(None),
            (None, _) => Err(TlsError::msg(
                "client certificates are requested but no client CA file is set",
            )),
            (Some(path), auth) => {
                if auth == ClientAuth::None {
                    log::warn!(
                        "client CA file {} is set but client_auth is None: no client certificate is requested",
                        path.display()
                    );
                }
                Ok(Some(load_ca_file(path)?))
            }
        }
    }

    /// One context with every setting and the given certificates.
    fn context<'a>(
        &self,
        identities: impl Iterator<Item = &'a Identity>,
        client_ca: Option<&[X509]>,
        ticket_keys: &Arc<TicketKeyStore>,
    ) -> Result<SslContextBuilder, TlsError> {
        let mut ctx = SslContext::builder(SslMethod::tls_server())
            .map_err(|e| TlsError::stack("creating the server TLS context", e))?;
        apply_defaults(&mut ctx, self.min, self.max)?;
        ctx.set_options(SslOptions::CIPHER_SERVER_PREFERENCE);
        ctx.set_session_cache_mode(SslSessionCacheMode::SERVER);
        ctx.set_session_id_context(&session_id_context(self.client_auth, client_ca)?)
            .map_err(|e| TlsError::stack("setting the session id context", e))?;
        for identity in identities {
            identity.apply(&mut ctx)?;
        }
        if let Some(cas) = client_ca {
            for ca in cas {
                ctx.cert_store_mut()
                    .add_cert(ca.clone())
                    .map_err(|e| TlsError::stack("adding a client CA certificate", e))?;
                ctx.add_client_ca(ca)
                    .map_err(|e| TlsError::stack("adding a client CA name", e))?;
            }
        }
        ctx.set_verify(match self.client_auth {
            ClientAuth::None => SslVerifyMode::NONE,
            ClientAuth::Optional => SslVerifyMode::PEER,
            ClientAuth::Required => SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT,
        });
        if !self.alpn.is_empty() {
            set_alpn(&mut ctx, &self.alpn)?;
        }
        install_ticket_keys(&mut ctx, ticket_keys, !self.ticket_key_files.is_empty())?;
        Ok(ctx)
    }
}

#[cfg(muon_ossl3)]
fn install_ticket_keys(
    ctx: &mut SslContextBuilder,
    keys: &Arc<TicketKeyStore>,
    _from_files: bool,
) -> Result<(), TlsError> {
    crate::ticket_callback::install(ctx, keys.clone())
}

#[cfg(not(muon_ossl3))]
fn install_ticket_keys(
    _ctx: &mut SslContextBuilder,
    _keys: &Arc<TicketKeyStore>,
    from_files: bool,
) -> Result<(), TlsError> {
    if from_files {
        return Err(TlsError::msg(
            "session ticket key files need OpenSSL 3.0 or newer",
        ));
    }
    Ok(()) // OpenSSL's own per-context random keys
}

/// The DNS names (subjectAltName) of `cert`, lower case.
fn certificate_names(cert: &X509) -> Vec<String> {
    cert.subject_alt_names()
        .map(|names| {
            names
                .iter()
                .filter_map(|n| n.dnsname().map(normalize))
                .collect()
        })
        .unwrap_or_default()
}
