/** `npm run down`: stops the dev server, LLM server and worker that `npm run demo` started. */
import { stopAll } from './stack';

stopAll((s) => console.log(s));
