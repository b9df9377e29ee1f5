// The public page's buttons: copy the page's link, and print. The page
// reads without them; they appear only once this script runs.

const link = document.getElementById('share-link');
const copy = document.getElementById('copy-link');
const status = document.getElementById('copy-status');
const print = document.getElementById('print');

// The address as this browser reached the page, keeping only the language.
const here = new URL(location.href);
const lang = here.searchParams.get('lang');
const shared = new URL('/public/', here.origin);
if (lang === 'en' || lang === 'zh') shared.searchParams.set('lang', lang);
link.href = shared.href;
link.textContent = shared.href;

/** Copies with the clipboard API where the browser allows it (HTTPS or
 * localhost), else by selecting the link's text. */
async function copyLink() {
  try {
    await navigator.clipboard.writeText(link.href);
    return true;
  } catch {
    const range = document.createRange();
    range.selectNodeContents(link);
    const selection = getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    return document.execCommand('copy');
  }
}

copy.hidden = false;
copy.addEventListener('click', async () => {
  status.textContent = (await copyLink()) ? copy.dataset.copied : copy.dataset.failed;
});

print.hidden = false;
print.addEventListener('click', () => window.print());
