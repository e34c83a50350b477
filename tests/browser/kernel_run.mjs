// Shared by the student-flow scenarios (puppeteer and WebDriver): run code in the current
// notebook's kernel as a cell would, answering input() prompts. `runInPage` executes inside
// the page (each driver serializes it); `text` joins a result's outputs.
export async function runInPage(code, answers) {
  const w = window.jupyterapp.shell.currentWidget;
  const kernel = w.sessionContext.session.kernel;
  const outputs = [];
  const prompts = [];
  const future = kernel.requestExecute({ code, allow_stdin: true, store_history: true });
  future.onStdin = (msg) => {
    prompts.push(msg.content.prompt);
    future.sendInputReply({ status: 'ok', value: answers.shift() ?? '' }, msg.header);
  };
  future.onIOPub = (msg) => {
    const t = msg.header.msg_type;
    if (['stream', 'display_data', 'execute_result', 'error'].includes(t)) {
      const c = msg.content;
      outputs.push({ type: t, text: String(c.text || (c.data && c.data['text/plain']) || c.evalue || ''),
        mimes: c.data ? Object.keys(c.data) : [] });
    }
  };
  const reply = await future.done;
  return { status: reply.content.status, outputs, prompts };
}

export const text = (r) => r.outputs.map((o) => o.text).join('');
