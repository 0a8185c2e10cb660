// The language picker submits on change (no inline handler: the CSP allows only our files).
document.querySelectorAll('form.language select').forEach(function (select) {
  select.addEventListener('change', function () { select.form.submit(); });
});
