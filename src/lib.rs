//! hardmatch: hard-match on-premises Active Directory users to their Entra ID users.
//!
//! The modules follow the data's path:
//! read ([`sources`], [`cloud`]) → decide ([`plan`]) → review ([`review`] rows in a [`workbook`])
//! → execute ([`graph`], tested against [`sim`]) → record ([`workbook`] again); or, for
//! organisations that run changes through their own runbooks, → [`script`].
//! [`anchor`] holds the one piece of arithmetic everything depends on: objectGUID ⇄ ImmutableId.

pub mod anchor;
pub mod apply;
pub mod cloud;
pub mod error;
mod fold;
pub mod fsutil;
pub mod graph;
pub mod plan;
pub mod review;
pub mod script;
pub mod sim;
pub mod sources;
pub mod wire;
pub mod workbook;

pub use error::InputError;
