//! An account scheduled for deletion can be restored until it is purged.
//! Deleting it ended every session, so restoring needs no session: the
//! email and password prove it is the person, and the device then signs in
//! as usual.

use crate::agent::Agent;
use crate::error::Result;
use crate::service::ServiceClient;
use crate::types::{AccountInfo, SignInRequest};

impl Agent {
    /// Cancels the scheduled deletion of the account `request` names (at
    /// its `server_url`, or this agent's service), then signs this device
    /// in with the same request. An account that is not scheduled for
    /// deletion just signs in.
    ///
    /// # Errors
    /// `InvalidCredentials` for a wrong email or password (nothing
    /// changes); `InvalidInput` for an unusable service address or after
    /// too many attempts; `Network`; then whatever signing in can answer
    /// (`TotpRequired` when the account needs a code: the account is
    /// restored by then, and signing in with the code finishes).
    pub fn restore_account(&self, request: &SignInRequest) -> Result<AccountInfo> {
        let url = match request.server_url.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
            Some(url) => url.to_owned(),
            None => self.server_url(),
        };
        ServiceClient::new(&url)?.restore_deletion(request.email.trim(), &request.password)?;
        self.sign_in(request)
    }
}
