// Change lists on a phone: each cell carries its column's name (data-label), which admin.css
// shows before the value when the table becomes a list of cards (below 768 px).
document.addEventListener("DOMContentLoaded", () => {
  for (const table of document.querySelectorAll("#result_list")) {
    const names = [...table.querySelectorAll("thead th")].map((th) => th.textContent.trim());
    for (const row of table.querySelectorAll("tbody tr")) {
      [...row.children].forEach((cell, index) => {
        if (names[index]) cell.dataset.label = names[index];
      });
    }
  }
});
