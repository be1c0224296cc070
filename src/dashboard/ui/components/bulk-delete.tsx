// Cleaning up finished jobs from the jobs list: the rows' checkboxes pick them, one button deletes
// them all for good (each with its events and result), after a confirming second click.
import { useState } from 'preact/hooks';
import { api, ApiFailure } from '../api.js';
import { ErrorBox } from './common.js';

export function BulkDelete({
  selected,
  onSelectAll,
  onDone,
}: {
  selected: string[];
  onSelectAll: () => void;
  onDone: (deleted: string[]) => void;
}) {
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiFailure>();

  const remove = async () => {
    setBusy(true);
    setError(undefined);
    const deleted: string[] = [];
    try {
      // One at a time: a refusal (a job that is not finished after all) stops with its message.
      for (const id of selected) {
        await api(`/api/v1/jobs/${encodeURIComponent(id)}/record`, { method: 'DELETE' });
        deleted.push(id);
      }
    } catch (e) {
      setError(e as ApiFailure);
    } finally {
      setBusy(false);
      setConfirming(false);
      onDone(deleted);
    }
  };

  return (
    <div class="actions bulk" role="group" aria-label="Finished jobs">
      <button type="button" class="secondary" onClick={onSelectAll}>
        Select the finished jobs shown
      </button>
      {!confirming ? (
        <button
          type="button"
          class="secondary"
          disabled={selected.length === 0}
          onClick={() => setConfirming(true)}
        >
          Delete selected ({selected.length})…
        </button>
      ) : (
        <>
          <button type="button" class="danger" onClick={remove} disabled={busy}>
            Delete {selected.length} job(s) for good
          </button>
          <button type="button" class="secondary" onClick={() => setConfirming(false)}>
            Keep them
          </button>
        </>
      )}
      {error && <ErrorBox error={error} title="Delete refused" />}
    </div>
  );
}
