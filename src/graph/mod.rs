//! Microsoft Graph client: auth, HTTP with retries and pacing, JSON batching, and the operations
//! hardmatch needs. Knows HTTP and Graph's JSON ([`crate::wire`]); nothing about workbooks.
