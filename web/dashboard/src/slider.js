// The smoothing slider: while it moves, the page's preview at once (over the points it has,
// smooth.js); once released, the gateway's average over the whole series, asked once.
// `page`: as for view.js, `showSmoothing(value)` (the slider's figure) and `reload()` (the
// view asked again, debounced).
import { Unauthenticated } from "./graphql.js";
import { loadSmoothed } from "./series.js";

// The slider moved: the page's preview at the new weight.
export function setSmoothing(page, value) {
  page.state.smoothing = value;
  page.showSmoothing(value);
  page.remember();
  page.draw();
}

// The slider released: the gateway's average over the whole series, asked once (each `input`
// asked for every series again, a request per pause of the hand), and only it: the lines,
// the subscription and the live lines' anchor stay. A view still loading is asked again
// whole (its request has the old weight).
export function smoothingChosen(page, value) {
  const { state } = page;
  setSmoothing(page, value);
  if (!(value > 0)) return;
  if (document.body.dataset.view !== "ready") {
    page.reload(); // debounced: keys pressed while a view loads ask it again once
    return;
  }
  if (state.smoothingRequest) state.smoothingRequest.abort();
  const request = new AbortController();
  state.smoothingRequest = request;
  const where = { workspace: state.workspace, project: state.project };
  loadSmoothed(page, where, request).then(() => {
    if (!request.signal.aborted) page.note("series", "");
  }, (error) => {
    if (error.name !== "AbortError" && !request.signal.aborted
        && !(error instanceof Unauthenticated)) {
      page.problem("series", String(error.message || error));
    }
  });
}
