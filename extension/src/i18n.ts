// The extension's words in the students' language, through JupyterLab's own translator:
// the same language as JupyterLab's menus (the locale the kiosk puts in jupyter-lite.json).
// The catalogs (domain "kiosk_share") are gettext files in kiosk/locale/<lang>/LC_MESSAGES/
// kiosk_share.po; the bundle builder adds them to api/translations/<locale>.json beside
// JupyterLab's language packs (kiosk/bundle/translations.py, docs/architecture.md).
import { ITranslator, nullTranslator, TranslationBundle } from '@jupyterlab/translation';

/** The catalog domain of this extension in JupyterLite's translation data. */
export const DOMAIN = 'kiosk_share';

const RTL_LANGUAGES = ['ar', 'fa', 'he', 'ur'];

/**
 * The current translations: `trans.__('...')`, `trans._n('one', 'many', n)`. English until
 * the plugin starts with JupyterLab's translator (a live binding: importers see the change).
 */
export let trans: TranslationBundle = nullTranslator.load(DOMAIN);

/** The language in use, as a BCP 47 tag ('en', 'fr-FR', 'ar-SA'). */
export let languageCode = 'en';

/** Use JupyterLab's translator (called once, when the plugin starts). */
export function useTranslator(translator: ITranslator): void {
  trans = translator.load(DOMAIN);
  languageCode = translator.languageCode || 'en';
}

/** 'rtl' for a right-to-left language (Arabic), else 'ltr': the `dir` of the kiosk's dialogs. */
export function textDirection(): 'ltr' | 'rtl' {
  return RTL_LANGUAGES.includes(languageCode.split(/[-_]/)[0].toLowerCase()) ? 'rtl' : 'ltr';
}
