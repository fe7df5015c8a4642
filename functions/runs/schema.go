package runs

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	"github.com/lorafn/lorafn/core/tune"
)

// descriptions documents every field of Config by its JSON path; Schema
// fails on a field without one, so the schema never falls behind the code.
var descriptions = map[string]string{
	"":                                      "lorafn run configuration: lorafn.json beside a dataset, or the \"config\" of an execution input. Every field is optional.",
	"name":                                  "Task name; promoted adapters go to adapters/<name>/. Default: the dataset's folder name.",
	"base_model":                            "Key prefix of the base model, a Hugging Face folder (config.json, model.safetensors, tokenizer.json), e.g. models/smollm2-135m/.",
	"validation":                            "Dataset key used for validation instead of a split of the training data.",
	"general_eval":                          "Dataset key of general text on which forgetting is measured (perplexity of base vs tuned).",
	"method":                                "The fine-tuning method and its options.",
	"method.method":                         "lora, dora, ia3, prompt, prefix, full (every weight) or last-k (the top layers).",
	"method.lora":                           "LoRA options, named as in PEFT's adapter_config.json.",
	"method.lora.r":                         "LoRA rank.",
	"method.lora.lora_alpha":                "LoRA alpha; the update is scaled by alpha/r (alpha/sqrt(r) with use_rslora).",
	"method.lora.lora_dropout":              "Dropout on the LoRA branch's input while training.",
	"method.lora.target_modules":            "Layers that get LoRA: a list of module names (q_proj, v_proj, ...; c_attn for GPT-2), \"all-linear\", or a regular expression string. Default: the model family's, as PEFT.",
	"method.lora.use_rslora":                "Rank-stabilised LoRA scaling alpha/sqrt(r).",
	"method.lora.use_dora":                  "DoRA: LoRA plus a learned magnitude per output feature (method dora sets it).",
	"method.ia3":                            "(IA)3 options, named as in PEFT's adapter_config.json.",
	"method.ia3.target_modules":             "Layers whose output (or, for feed-forward modules, input) is scaled; default: the model family's, as PEFT.",
	"method.ia3.feedforward_modules":        "The target modules scaled on their input side; default: the family's, as PEFT.",
	"method.ia3.base_model_name_or_path":    "Recorded in the adapter's adapter_config.json.",
	"method.ia3.revision":                   "Recorded in the adapter's adapter_config.json.",
	"method.prompt":                         "Prompt-tuning options, named as in PEFT's adapter_config.json.",
	"method.prompt.num_virtual_tokens":      "Learned virtual tokens prepended to every input.",
	"method.prompt.prompt_tuning_init":      "RANDOM, or TEXT to start from the embeddings of prompt_tuning_init_text.",
	"method.prompt.prompt_tuning_init_text": "The text whose token embeddings initialise the virtual tokens (TEXT init).",
	"method.prompt.tokenizer_name_or_path":  "Folder of the tokenizer.json that encodes prompt_tuning_init_text (default: the base model's).",
	"method.prompt.base_model_name_or_path": "Recorded in the adapter's adapter_config.json.",
	"method.prompt.revision":                "Recorded in the adapter's adapter_config.json.",
	"method.prefix":                         "Prefix-tuning options, named as in PEFT's adapter_config.json.",
	"method.prefix.num_virtual_tokens":      "Learned key/value positions prepended in every layer.",
	"method.prefix.init_weights":            "Initialisation of the prefixes: empty for N(0, 1) as PEFT, or zero.",
	"method.prefix.base_model_name_or_path": "Recorded in the adapter's adapter_config.json.",
	"method.prefix.revision":                "Recorded in the adapter's adapter_config.json.",
	"method.lora.base_model_name_or_path":   "Recorded in the adapter's adapter_config.json.",
	"method.lora.revision":                  "Recorded in the adapter's adapter_config.json.",
	"method.loraplus_lr_ratio":              "LoRA+: the B matrices train at this multiple of the learning rate (0: off).",
	"method.init_adapter":                   "Start from an existing PEFT adapter folder instead of a fresh adapter.",
	"method.last_k":                         "last-k: the number of top decoder layers to train.",
	"method.train_head":                     "last-k: also train the output head.",
	"method.train_norm":                     "last-k: also train the final norm.",
	"training":                              "Optimizer and schedule, named as Hugging Face's TrainingArguments.",
	"training.learning_rate":                "Peak learning rate.",
	"training.lr_scheduler_type":            "constant, constant_with_warmup, linear or cosine, as Hugging Face's get_scheduler.",
	"training.warmup_steps":                 "Steps of linear warmup from 0.",
	"training.weight_decay":                 "AdamW's decoupled weight decay, applied to matrices only.",
	"training.adam_beta1":                   "AdamW beta1.",
	"training.adam_beta2":                   "AdamW beta2.",
	"training.adam_epsilon":                 "AdamW epsilon.",
	"training.max_grad_norm":                "Clip the global L2 norm of the gradients to this (0: off).",
	"training.per_device_train_batch_size":  "Sequences per micro-batch.",
	"training.gradient_accumulation_steps":  "Micro-batches per optimizer step.",
	"training.max_seq_length":               "Longer examples are cut to this many tokens.",
	"training.max_steps":                    "Optimizer steps; 0 derives them from num_train_epochs.",
	"training.num_train_epochs":             "Passes over the training split when max_steps is 0.",
	"training.seed":                         "Seed of the data order, dropout and adapter initialisation.",
	"training.shuffle":                      "Shuffle the training examples each epoch.",
	"training.adapter_dropout":              "Apply the adapter's dropout while training.",
	"training.eval_steps":                   "Evaluate the validation split every N steps (always at the end).",
	"training.early_stopping_patience":      "Stop after N evaluations without improvement (0: off).",
	"training.early_stopping_threshold":     "Smallest validation-loss decrease that counts as an improvement.",
	"data":                                  "Dataset preparation.",
	"data.max_len":                          "Maximum tokens per example.",
	"data.val_fraction":                     "Fraction of the records held out for validation, chosen by a hash of each record (stable when records are appended).",
	"data.pack":                             "Pack short examples into sequences of max_len tokens.",
	"data.chat_template":                    "Chat template name (chatml, llama3, llama2, zephyr); default: recognised from the model's tokenizer_config.json.",
	"data.train_on_prompt":                  "Train on prompt tokens too, not only completions and assistant turns.",
	"data.error_budget":                     "Fraction of records that may be rejected before prep fails.",
	"data.overflow":                         "Records over max_len: truncate or reject.",
	"gate":                                  "The quality gate before promotion.",
	"gate.min_improvement":                  "Relative validation-loss improvement over the base model required (0.01 = 1 %).",
	"gate.max_forgetting":                   "Largest tolerated relative perplexity increase on general_eval (0: no check).",
	"gate.beat_current":                     "Require a lower validation loss than the adapter currently promoted for this task and base model.",
	"chunk":                                 "Lambda training chunks.",
	"chunk.margin_seconds":                  "Seconds kept free before the Lambda deadline to write the checkpoint (raised to twice the measured write time).",
	"chunk.max_steps":                       "Most optimizer steps per chunk (0: until the deadline).",
	"chunk.max_chunks_per_segment":          "Chunks per execution before the workflow continues as a new execution.",
	"compute":                               "Where training runs.",
	"compute.backend":                       "auto, lambda or batch.",
	"compute.lambda_gflops":                 "Training throughput assumed for one Lambda function, to estimate the run's duration.",
	"compute.max_lambda_hours":              "Runs estimated longer than this go to Batch.",
	"compute.max_lambda_model_bytes":        "Models with more float32 weight bytes than this go to Batch.",
}

// enums lists the allowed values of string fields.
var enums = map[string][]string{
	"method.method":              tune.Methods(),
	"training.lr_scheduler_type": {"constant", "constant_with_warmup", "linear", "cosine"},
	"data.overflow":              {"truncate", "reject"},
	"compute.backend":            {"auto", "lambda", "batch"},
}

// Schema returns the JSON Schema (draft 2020-12) of Config, with the
// defaults of DefaultConfig.
func Schema() (map[string]any, error) {
	def, err := json.Marshal(DefaultConfig())
	if err != nil {
		return nil, err
	}
	var defaults any
	if err := json.Unmarshal(def, &defaults); err != nil {
		return nil, err
	}
	s, err := schemaOf(reflect.TypeFor[Config](), "", defaults)
	if err != nil {
		return nil, err
	}
	s["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	s["$id"] = "https://github.com/lorafn/lorafn/docs/run-config.schema.json"
	s["title"] = "lorafn run configuration"
	delete(s, "default")
	return s, nil
}

var jsonMarshaler = reflect.TypeFor[json.Marshaler]()

func schemaOf(t reflect.Type, path string, def any) (map[string]any, error) {
	desc, ok := descriptions[path]
	if !ok {
		return nil, fmt.Errorf("runs: field %q has no description", path)
	}
	s := map[string]any{"description": desc}
	if def != nil {
		s["default"] = def
	}
	switch {
	case t.Implements(jsonMarshaler): // target_modules
		s["type"] = []string{"array", "string", "null"}
		s["items"] = map[string]any{"type": "string"}
	case t.Kind() == reflect.Struct:
		s["type"] = "object"
		s["additionalProperties"] = false
		props := map[string]any{}
		defs, _ := def.(map[string]any)
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" || !f.IsExported() {
				continue
			}
			child := name
			if path != "" {
				child = path + "." + name
			}
			p, err := schemaOf(f.Type, child, defs[name])
			if err != nil {
				return nil, err
			}
			props[name] = p
		}
		s["properties"] = props
	case t.Kind() == reflect.String:
		s["type"] = "string"
		if e, ok := enums[path]; ok {
			s["enum"] = e
		}
	case t.Kind() == reflect.Bool:
		s["type"] = "boolean"
	case t.Kind() == reflect.Float64:
		s["type"] = "number"
		s["minimum"] = 0
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		s["type"] = "integer"
		s["minimum"] = 0
	default:
		return nil, fmt.Errorf("runs: field %q: no schema for %s", path, t)
	}
	return s, nil
}
