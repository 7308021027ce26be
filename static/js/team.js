// Team page: the "Copy" button beside a new invitation link.
document.querySelectorAll("button.copy-link").forEach((button) => {
  button.addEventListener("click", async () => {
    const field = document.querySelector(button.dataset.copy);
    field.select();
    try {
      await navigator.clipboard.writeText(field.value);
      button.textContent = "Copied";
    } catch {
      // No clipboard permission (plain HTTP, say): the link stays selected for Ctrl+C.
      button.textContent = "Press Ctrl+C";
    }
  });
});
