exports.handler = async (event) => {
console.log('Event Received:', JSON.stringify(event, null, 2));
// Your event processing logic here
return { statusCode: 200, body: 'Event processed successfully' };
};
