//! A simulated tenant that answers like Microsoft Graph and the identity platform's token
//! endpoint, so the same client code is exercised without reaching Microsoft. Shares only
//! [`crate::wire`] with the client.
