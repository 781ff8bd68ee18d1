//! Where a choice is collected: the kinds of collection point.

use crate::purpose::vocabulary;

vocabulary! {
    /// Where a choice was collected: the `kind` of a receipt's collection point and of a consent
    /// request's `collection_point`.
    ///
    /// ```
    /// use consent_core::CollectionKind;
    /// assert_eq!("banner".parse::<CollectionKind>()?, CollectionKind::Banner);
    /// assert_eq!(CollectionKind::ALL.len(), 5);
    /// assert_eq!(CollectionKind::Staff.as_str(), "staff");
    /// # Ok::<(), consent_core::ParseError>(())
    /// ```
    CollectionKind, "collection kind" {
        /// The website's cookie banner.
        Banner = "banner",
        /// A form (e.g. the application form).
        Form = "form",
        /// A backend service through the API.
        Api = "api",
        /// A link in an e-mail (one-click unsubscribe).
        Email = "email",
        /// Staff recording a rights request.
        Staff = "staff",
    }
}
