// Copy buttons: <button data-copy="ID"> copies the text of the element with that id.
// What the button then says comes, translated, from this script element's data attributes
// (templates/admin/base_site.html): data-copied, data-copy-by-hand.
(() => {
  const said = document.currentScript.dataset;
  document.addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-copy]");
    if (!button) return;
    const source = document.getElementById(button.dataset.copy);
    if (!source) return;
    const text = ("value" in source ? source.value : source.textContent).trim();
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      // No Clipboard API (an insecure origin): select the text for the person to copy.
      const range = document.createRange();
      range.selectNodeContents(source);
      getSelection().removeAllRanges();
      getSelection().addRange(range);
      if ("select" in source) source.select();
      button.textContent = said.copyByHand;
      return;
    }
    const label = button.textContent;
    button.textContent = said.copied;
    setTimeout(() => { button.textContent = label; }, 2000);
  });
})();
