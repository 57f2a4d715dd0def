//! Open platform third-party platform (第三方平台, WECHAT.md §D, §G.3–G.5): component token,
//! pre-auth codes, authorization pages, authorizer tokens and info, and the encrypted pushes
//! to the server's receiver.

use super::upstream::Route;

/// Endpoints of this module.
pub(crate) const ROUTES: &[Route] = &[];
