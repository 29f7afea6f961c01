import { SecretValue, Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { EVENT_SOURCE } from '../lambdas/core/events.ts';
import { VERIFIER_ENV } from '../lambdas/verify/config.ts';
import { acknowledge } from './nag.ts';

export interface DecisionWebhook {
  /** HTTPS endpoint every decision event is POSTed to (an EventBridge API destination). */
  readonly url: string;
  /** A Secrets Manager secret holding the API key the endpoint expects. */
  readonly apiKeySecretArn: string;
  /** @default 'x-api-key' */
  readonly apiKeyHeader?: string;
}

export interface DecisionEventsProps {
  /** Encrypts the optional SNS topic (the stack's data key). */
  readonly encryptionKey: kms.IKey;
  /** Fan out every event to an encrypted SNS topic. @default false */
  readonly topic?: boolean;
  /** Fan out every event to a webhook. @default - none */
  readonly webhook?: DecisionWebhook;
}

/**
 * Decision events: an EventBridge bus the verifier publishes to (schema in the README), with an optional
 * fan-out to an encrypted SNS topic and to a webhook through an API destination.
 */
export class DecisionEvents extends Construct {
  public readonly bus: events.EventBus;
  public readonly topic?: sns.Topic;

  constructor(scope: Construct, id: string, props: DecisionEventsProps) {
    super(scope, id);
    this.bus = new events.EventBus(this, 'Bus', { description: 'Vouch decision events' });
    const pattern = { source: [EVENT_SOURCE] };
    if (props.topic) {
      this.topic = new sns.Topic(this, 'Topic', {
        displayName: 'Vouch decisions',
        masterKey: props.encryptionKey,
        enforceSSL: true,
      });
      // Through a role of its own rather than a topic policy naming the events service (which would let
      // any account's rule publish): the role may publish here and use the key, nothing else.
      const publisher = new iam.Role(this, 'TopicPublisher', {
        description: 'Vouch: EventBridge publishes decision events to the decisions topic',
        assumedBy: new iam.ServicePrincipal('events.amazonaws.com', {
          conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
        }),
      });
      acknowledge(
        publisher,
        'IAM5[Action::kms:GenerateDataKey*]',
        "The SNS target's own grant for publishing to a topic encrypted with the data key: that key only.",
      );
      new events.Rule(this, 'ToTopic', {
        eventBus: this.bus,
        eventPattern: pattern,
        targets: [new targets.SnsTopic(this.topic, { authorizeUsingRole: true, role: publisher })],
      });
    }
    if (props.webhook) {
      const connection = new events.Connection(this, 'WebhookConnection', {
        description: 'Vouch decision webhook',
        authorization: events.Authorization.apiKey(
          props.webhook.apiKeyHeader ?? 'x-api-key',
          SecretValue.secretsManager(props.webhook.apiKeySecretArn),
        ),
      });
      const destination = new events.ApiDestination(this, 'Webhook', {
        connection,
        endpoint: props.webhook.url,
        httpMethod: events.HttpMethod.POST,
        description: 'Vouch decision events',
      });
      new events.Rule(this, 'ToWebhook', {
        eventBus: this.bus,
        eventPattern: pattern,
        targets: [new targets.ApiDestination(destination)],
      });
    }
  }

  /** Lets a verifier function publish to the bus, and tells it which bus. */
  grantPublish(verifier: lambda.Function): void {
    this.bus.grantPutEventsTo(verifier);
    verifier.addEnvironment(VERIFIER_ENV.eventBus, this.bus.eventBusName);
  }
}
