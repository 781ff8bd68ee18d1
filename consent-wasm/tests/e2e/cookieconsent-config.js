// The reference banner of `scripts/banner-speed --compare`: cookieconsent v3 (the smallest of the
// well-known open-source banners) on the same page as ours, set up the way a site like invisionu.education
// would: three categories (necessary, analytics, marketing), a first layer with accept all, reject all and
// a way to choose, a second layer with a section per category. `hideFromBots: false`, since the page is
// driven through WebDriver (`navigator.webdriver`), for which cookieconsent otherwise shows nothing.
import * as CookieConsent from "./cookieconsent.esm.js";

CookieConsent.run({
  hideFromBots: false,
  categories: { necessary: { enabled: true, readOnly: true }, analytics: {}, marketing: {} },
  language: {
    default: "en",
    translations: {
      en: {
        consentModal: {
          title: "inVision U and your personal data",
          description:
            "We process personal data and use cookies as our privacy policy describes. Choose what you allow; you can change it at any time.",
          acceptAllBtn: "Accept all",
          acceptNecessaryBtn: "Reject all",
          showPreferencesBtn: "Choose",
        },
        preferencesModal: {
          title: "Your choices",
          acceptAllBtn: "Accept all",
          acceptNecessaryBtn: "Reject all",
          savePreferencesBtn: "Save",
          sections: [
            { title: "Strictly necessary", description: "Needed for the site to work.", linkedCategory: "necessary" },
            { title: "Analytics", description: "How visitors use the site.", linkedCategory: "analytics" },
            { title: "Marketing", description: "News and offers.", linkedCategory: "marketing" },
          ],
        },
      },
    },
  },
});
