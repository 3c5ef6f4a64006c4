// Fetches data.json from the same server and shows what came back.
const status = document.getElementById("status");

fetch("data.json")
  .then((response) => {
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    return response.json();
  })
  .then((data) => {
    status.textContent = `${data.message} (${data.items.length} items: ${data.items.join(", ")})`;
  })
  .catch((error) => {
    status.textContent = `Could not load data.json: ${error.message}`;
  });
