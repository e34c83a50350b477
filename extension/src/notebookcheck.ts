// Checks a shared notebook before it is stored in this browser or opened: a damaged or
// oversized one gets one clear sentence instead of a JupyterLab error and a save prompt.
import { NotebookModel } from '@jupyterlab/notebook';

/** The largest shared notebook a phone is asked to open (its JSON text). */
export const MAX_OPEN_BYTES = 24 * 1024 * 1024;

const CELL_TYPES = new Set(['code', 'markdown', 'raw']);

function isSource(value: unknown): boolean {
  return (
    typeof value === 'string' ||
    (Array.isArray(value) && value.every((line) => typeof line === 'string'))
  );
}

/** Why a notebook's content cannot be opened, or null when it can. */
export function notebookProblem(content: any): 'damaged' | null {
  if (!content || typeof content !== 'object' || Array.isArray(content)) {
    return 'damaged';
  }
  if (
    !Array.isArray(content.cells) ||
    (content.metadata !== undefined && typeof content.metadata !== 'object')
  ) {
    return 'damaged';
  }
  if (content.nbformat !== undefined && content.nbformat !== 4) {
    return 'damaged';
  }
  for (const cell of content.cells) {
    if (
      !cell ||
      typeof cell !== 'object' ||
      !CELL_TYPES.has(cell.cell_type) ||
      !isSource(cell.source)
    ) {
      return 'damaged';
    }
    if (cell.cell_type === 'code' && cell.outputs !== undefined && !Array.isArray(cell.outputs)) {
      return 'damaged';
    }
  }
  // Finally, what JupyterLab itself will do with it.
  const model = new NotebookModel();
  try {
    model.fromJSON({ nbformat: 4, nbformat_minor: 5, metadata: {}, ...content });
  } catch {
    return 'damaged';
  } finally {
    model.dispose();
  }
  return null;
}
