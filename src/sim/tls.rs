//! https for the simulated tenant (`sim serve --tls`): some SDKs talk to Graph only over https
//! (the JavaScript client sends its token only to https hosts and follows only https
//! `@odata.nextLink`s). A fresh self-signed certificate for `127.0.0.1` and `localhost` is made
//! at start; its PEM is what a client is told to trust.
//!
//! Handshakes run on their own tasks, so a slow or stalled client cannot hold up the others;
//! finished connections are handed to the server through a channel.

use std::io;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;

/// The certificate (PEM) and the acceptor that serves with it.
pub(crate) struct Tls {
    pub certificate_pem: String,
    acceptor: tokio_rustls::TlsAcceptor,
}

impl Tls {
    /// A new key pair and a self-signed certificate for `127.0.0.1` and `localhost`.
    pub fn generate() -> io::Result<Tls> {
        let mut params =
            rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
                .map_err(io::Error::other)?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "hardmatch simulated tenant");
        let key = rcgen::KeyPair::generate().map_err(io::Error::other)?;
        let cert = params.self_signed(&key).map_err(io::Error::other)?;
        let der_key = rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(io::Error::other)?
            .with_no_client_auth()
            .with_single_cert(vec![cert.der().clone()], der_key)
            .map_err(io::Error::other)?;
        // The server speaks HTTP/1.1 only.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Tls {
            certificate_pem: cert.pem(),
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
        })
    }

    /// Accepts on `listener` and hands over connections whose handshake finished (within 10 s;
    /// failed handshakes are dropped, as a server does).
    pub fn serve(&self, listener: TcpListener) -> mpsc::Receiver<TlsStream<TcpStream>> {
        let (tx, rx) = mpsc::channel(64);
        let acceptor = self.acceptor.clone();
        tokio::spawn(async move {
            loop {
                // Stops (and frees the port) once the server is gone.
                let accepted = tokio::select! {
                    a = listener.accept() => a,
                    _ = tx.closed() => return,
                };
                let stream = match accepted {
                    Ok((s, _)) => s,
                    // Out of file descriptors and the like: back off instead of spinning.
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    let handshake = acceptor.accept(stream);
                    if let Ok(Ok(tls)) =
                        tokio::time::timeout(Duration::from_secs(10), handshake).await
                    {
                        let _ = tx.send(tls).await;
                    }
                });
            }
        });
        rx
    }
}
