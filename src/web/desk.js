// watchfloor's reviewer's desk: keyboard shortcuts for the hit page and the hit list.
//
// Every key presses a button or follows a link the page already has, so the pages work the
// same without this file. It is served from the binary as /static/desk.js under a policy that
// runs no inline script; it reads no feed text and writes none into the page.
//
//   r  relevant          f  false positive      d  duplicate (asks for the earlier hit)
//   j  next hit          k  previous hit        (on the list: move the selection; o opens)
'use strict';

(function () {
  const body = document.body;
  // Marks the page as enhanced: the legend says the keys work, and tests see the script ran.
  body.dataset.desk = 'ready';

  function typing(target) {
    if (!target || !target.tagName) return false;
    return target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName);
  }

  // The verdict forms of one hit: on the hit page, the page's; on the list, the selected row's.
  function verdictButton(scope, verdict) {
    return scope.querySelector('button[name="verdict"][value="' + verdict + '"]');
  }

  function askDuplicate(scope) {
    const field = scope.querySelector('input[name="of"]');
    const button = verdictButton(scope, 'duplicate');
    if (!field || !button) return;
    const answer = window.prompt('Duplicate of which hit? (its number)', field.value);
    if (answer === null) return;
    const id = answer.trim().replace(/^#/, '');
    if (!/^[1-9][0-9]{0,17}$/.test(id)) {
      window.alert('"' + answer + '" is not a hit number.');
      return;
    }
    field.value = id;
    button.click();
  }

  function press(scope, key) {
    if (!scope) return false;
    if (key === 'r' || key === 'f') {
      const button = verdictButton(scope, key === 'r' ? 'relevant' : 'false_positive');
      if (button) button.click();
      return !!button;
    }
    if (key === 'd') {
      askDuplicate(scope);
      return true;
    }
    return false;
  }

  const hitPage = document.getElementById('desk');
  const rows = Array.prototype.slice.call(document.querySelectorAll('tr.hit-row'));
  let selected = -1;

  function select(index) {
    if (rows.length === 0) return;
    if (selected >= 0) rows[selected].classList.remove('selected');
    selected = Math.max(0, Math.min(rows.length - 1, index));
    const row = rows[selected];
    row.classList.add('selected');
    row.scrollIntoView({ block: 'nearest' });
  }

  // Back on the list after a verdict: select the row that was judged (the URL's #hit-ID).
  if (rows.length > 0 && location.hash.indexOf('#hit-') === 0) {
    const back = rows.findIndex(function (row) { return '#' + row.id === location.hash; });
    if (back >= 0) select(back);
  }

  document.addEventListener('keydown', function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    const key = event.key;
    let handled = false;
    if (hitPage) {
      if (key === 'j' || key === 'k') {
        const link = document.getElementById(key === 'j' ? 'next-hit' : 'previous-hit');
        if (link) {
          link.click();
          handled = true;
        }
      } else {
        handled = press(hitPage, key);
      }
    } else if (rows.length > 0) {
      if (key === 'j') {
        select(selected + 1);
        handled = true;
      } else if (key === 'k') {
        select(selected - 1);
        handled = true;
      } else if ((key === 'o' || (key === 'Enter' && event.target === body)) && selected >= 0) {
        // Enter on a focused link or button is that element's own.
        const link = rows[selected].querySelector('a.hit-title');
        if (link) link.click();
        handled = !!link;
      } else if (selected >= 0) {
        handled = press(rows[selected], key);
      }
    }
    if (handled) event.preventDefault();
  });
})();
